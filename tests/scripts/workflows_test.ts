// The GitHub Actions workflows are valid: actionlint (built by scripts/kube/build.sh, which
// `deno task test` runs when it is missing) checks their syntax, expressions, job and step
// references and the inputs of the actions they use. Its shellcheck and pyflakes passes are off
// so that the result does not depend on what else is installed on the machine.
import assert from "node:assert/strict";
import { join } from "node:path";
import { cacheBinDir } from "../../scripts/test_setup.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

async function actionlint(cwd: string, files: string[]) {
  const bin = join(cacheBinDir((name) => Deno.env.get(name)), "actionlint");
  try {
    await Deno.stat(bin);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    throw new Error(
      `${bin} does not exist: \`deno task test\` builds it; for this file alone run ` +
        "`deno run -A scripts/test_setup.ts test` once.",
    );
  }
  const out = await new Deno.Command(bin, {
    args: ["-no-color", "-shellcheck=", "-pyflakes=", ...files],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

Deno.test("actionlint finds nothing wrong in .github/workflows/", async () => {
  const files = [];
  for await (const e of Deno.readDir(join(ROOT, ".github/workflows"))) {
    if (e.isFile && /\.ya?ml$/.test(e.name)) files.push(`.github/workflows/${e.name}`);
  }
  files.sort();
  assert.deepEqual(files, [".github/workflows/ci.yml", ".github/workflows/release.yml"]);
  const r = await actionlint(ROOT, files);
  assert.equal(r.output, "");
  assert.equal(r.code, 0);
});

Deno.test("actionlint does catch a broken workflow (an unknown job in needs, a bad expression)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(dir, ".github/workflows"), { recursive: true });
    await Deno.writeTextFile(
      join(dir, ".github/workflows/bad.yml"),
      [
        "on: push",
        "jobs:",
        "  test:",
        "    needs: [build]",
        "    runs-on: ubuntu-24.04",
        "    steps:",
        "      - run: echo ${{ github.nope( }}",
        "",
      ].join("\n"),
    );
    const r = await actionlint(dir, [".github/workflows/bad.yml"]);
    assert.equal(r.code, 1, r.output);
    assert.match(r.output, /job "test" needs job "build" which does not exist/);
    assert.match(r.output, /\[expression\]/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
