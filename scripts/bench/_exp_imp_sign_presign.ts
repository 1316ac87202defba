import "../../src/sign/presign.ts";
