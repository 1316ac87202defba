import "../../src/sign/exec_credential.ts";
