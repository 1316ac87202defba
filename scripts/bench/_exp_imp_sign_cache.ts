import "../../src/sign/cache.ts";
