import "../../src/sign/credentials.ts";
