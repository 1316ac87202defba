import "../../src/sign/generator.ts";
