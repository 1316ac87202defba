import "../../src/sign/mod.ts";
