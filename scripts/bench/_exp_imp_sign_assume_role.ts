import "../../src/sign/assume_role.ts";
