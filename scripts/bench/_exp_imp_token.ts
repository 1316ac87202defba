import "../../src/cli/token.ts";
