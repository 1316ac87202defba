import "../../src/sign/token_cache.ts";
