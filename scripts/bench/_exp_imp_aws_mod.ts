import "../../src/aws/mod.ts";
