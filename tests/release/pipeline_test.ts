/**
 * The release workflow and the Dockerfile cannot run here (no hosted CI, no registry for base
 * images), so this checks what can drift silently: the pinned Deno version, the steps that
 * must be in the pipeline, and the Dockerfile's target triples against the release script.
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { RELEASE_TARGETS } from "../../scripts/build_info.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Workflow {
  on: { push: { tags: string[] } };
  env: Record<string, string>;
  jobs: Record<string, { steps: Step[]; needs?: string }>;
}

async function ciDenoVersion(): Promise<string> {
  const m = /^DENO_VERSION=(\S+)$/m.exec(await Deno.readTextFile(`${ROOT}/.ci/run`));
  assert.ok(m, ".ci/run pins DENO_VERSION");
  return m[1]!;
}

Deno.test("release workflow: on v* tags, same Deno as CI, test before compile, publish what compile wrote", async () => {
  const wf = parse(await Deno.readTextFile(`${ROOT}/.github/workflows/release.yml`)) as Workflow;
  assert.deepEqual(wf.on.push.tags, ["v*"]);
  assert.equal(wf.env.DENO_VERSION, await ciDenoVersion());

  const steps = wf.jobs.binaries!.steps;
  const setup = steps.find((s) => s.uses?.startsWith("denoland/setup-deno@"));
  assert.equal(setup?.with?.["deno-version"], "${{ env.DENO_VERSION }}");
  const at = (pattern: RegExp) => {
    const i = steps.findIndex((s) => s.run !== undefined && pattern.test(s.run));
    assert.ok(i >= 0, `a step runs ${pattern}`);
    return i;
  };
  const test = at(/^deno task test$/m);
  const compile = at(
    /^deno task compile --version "\$\{\{ steps\.version\.outputs\.version \}\}"/m,
  );
  const smoke = at(/deno test --allow-all tests\/release\/smoke_test\.ts/);
  const publish = at(/gh release create/);
  assert.ok(test < compile && compile < smoke && smoke < publish, "test, compile, smoke, publish");
  assert.match(
    steps[smoke]!.env!.AIA_SMOKE_BINARY!,
    /dist\/aws-iam-authenticator_\$\{\{ steps\.version\.outputs\.version \}\}_linux_amd64$/,
  );
  assert.match(steps[publish]!.run!, /dist\/SHA256SUMS/);
  assert.match(
    steps[publish]!.run!,
    /dist\/aws-iam-authenticator_\$\{\{ steps\.version\.outputs\.version \}\}_\*/,
  );

  const image = wf.jobs.image!;
  assert.equal(image.needs, "binaries", "the image is pushed only after the binaries passed");
  const push = image.steps.find((s) => s.uses?.startsWith("docker/build-push-action@"));
  assert.equal(push?.with?.platforms, "linux/amd64,linux/arm64");
  assert.match(
    String(push?.with?.tags),
    /^\$\{\{ steps\.image\.outputs\.name \}\}:\$\{\{ steps\.image\.outputs\.version \}\}$/m,
  );
  const naming = image.steps.find((s) => s.run?.includes("aws-iam-authenticator-deno"));
  assert.match(naming!.run!, /name=ghcr\.io\/\$\{owner\}\/aws-iam-authenticator-deno"/);
  assert.match(naming!.run!, /version=\$\{GITHUB_REF_NAME#v\}"/);
});

Deno.test("Dockerfile: same Deno as CI, release targets only, distroless entrypoint like the Go image", async () => {
  const df = await Deno.readTextFile(`${ROOT}/Dockerfile`);
  assert.match(
    df,
    new RegExp(`^ARG DENO_VERSION=${(await ciDenoVersion()).replaceAll(".", "\\.")}$`, "m"),
  );
  const triples = [...df.matchAll(/^\s*(amd64|arm64)\) target=(\S+) ;;/gm)].map((
    m,
  ) => [m[1], m[2]]);
  assert.deepEqual(triples, [["amd64", "x86_64-unknown-linux-gnu"], [
    "arm64",
    "aarch64-unknown-linux-gnu",
  ]]);
  for (const [arch, triple] of triples) {
    const t = RELEASE_TARGETS.find((r) => r.triple === triple);
    assert.equal(t?.os, "linux");
    assert.equal(t?.arch, arch, "the cp glob matches the artifact name");
  }
  assert.match(df, /deno task compile --target "\$target" --out-dir \/out/);
  assert.match(df, /^FROM gcr\.io\/distroless\/cc-debian12:nonroot$/m);
  assert.match(df, /^ENTRYPOINT \["\/aws-iam-authenticator"\]$/m);
  assert.match(df, /^USER 65532:65532$/m);
});
