import "../../src/sign/endpoint.ts";
