import { strict as assert } from "node:assert";
import { PARTITION_IDS, type PartitionId, partitionInfo } from "../../src/aws/mod.ts";
import {
  checkStsHost,
  FormatError,
  knownStsHosts,
  parseStsOverride,
} from "../../src/verify/mod.ts";

const accepts = (host: string, partition: PartitionId, instanceRegion = "") =>
  checkStsHost(host, { partition, instanceRegion });

function rejects(host: string, partition: PartitionId, msg: string | RegExp, instanceRegion = "") {
  assert.throws(() => accepts(host, partition, instanceRegion), (e: unknown) => {
    assert.ok(e instanceof FormatError, `${host}: expected FormatError, got ${e}`);
    const text = e.message.replace("input token was not properly formatted: ", "");
    if (typeof msg === "string") assert.equal(text, msg, host);
    else assert.match(text, msg, host);
    return true;
  });
}

/** The Go tool's endpoint table (pkg/token/token.go), written out independently of src/aws. */
const SUFFIXES: Record<PartitionId, [string, string]> = {
  "aws": ["amazonaws.com", "api.aws"],
  "aws-cn": ["amazonaws.com.cn", "api.amazonwebservices.com.cn"],
  "aws-us-gov": ["amazonaws.com", "api.aws"],
  "aws-iso": ["c2s.ic.gov", "api.aws.ic.gov"],
  "aws-iso-b": ["sc2s.sgov.gov", "api.aws.scloud"],
  "aws-iso-e": ["cloud.adc-e.uk", "api.cloud-aws.adc-e.uk"],
  "aws-iso-f": ["csp.hci.ic.gov", "api.aws.hci.ic.gov"],
  "aws-eusc": ["amazonaws.eu", "api.amazonwebservices.eu"],
};

function expectedHosts(p: PartitionId, region: string): string[] {
  const [dns, dual] = SUFFIXES[p];
  const fips = p === "aws-us-gov" ? `sts.${region}.amazonaws.com` : `sts-fips.${region}.${dns}`;
  return [`sts.${region}.${dns}`, `sts.${region}.${dual}`, fips, `sts-fips.${region}.${dual}`];
}

for (const p of PARTITION_IDS) {
  Deno.test(`partition ${p}: every regional, FIPS and dual-stack host is accepted, only here`, () => {
    const regions = partitionInfo(p).regions.filter((r) => r !== "aws-global");
    assert.ok(regions.length > 0);
    const known = new Set(knownStsHosts(p));
    for (const region of regions) {
      for (const host of expectedHosts(p, region)) {
        assert.ok(known.has(host), `${host} missing from knownStsHosts(${p})`);
        assert.equal(accepts(host, p), region, host);
        for (const other of PARTITION_IDS) {
          if (other === p) continue;
          assert.throws(() => accepts(host, other), FormatError, `${host} accepted by ${other}`);
        }
      }
    }
    // Global: exactly sts.amazonaws.com, partition aws only.
    if (p === "aws") assert.equal(accepts("sts.amazonaws.com", p), "global");
    else rejects("sts.amazonaws.com", p, `global endpoint unsupported in partition ${p}`);
  });
}

Deno.test("regions newer than the data: matching the partition pattern is enough", () => {
  assert.equal(accepts("sts.ap-south-9.amazonaws.com", "aws"), "ap-south-9");
  assert.equal(accepts("sts-fips.ca-west-7.api.aws", "aws"), "ca-west-7");
  assert.equal(accepts("sts.cn-south-3.amazonaws.com.cn", "aws-cn"), "cn-south-3");
  assert.equal(accepts("sts.us-isof-west-5.csp.hci.ic.gov", "aws-iso-f"), "us-isof-west-5");
  // The SDK would resolve these under aws; they are not STS endpoints (Go accepts them).
  rejects(
    "sts.not-a-region.amazonaws.com",
    "aws",
    'unexpected hostname "sts.not-a-region.amazonaws.com" in pre-signed URL',
  );
  rejects("sts.aws-global.amazonaws.com", "aws", /unexpected hostname/);
  rejects("sts-fips.aws-global.amazonaws.com", "aws", /unexpected hostname/);
});

Deno.test("instance-region fallback accepts exactly sts.<region>.<domain> of the partition", () => {
  // A region no partition pattern knows, as a brand-new region might be.
  rejects("sts.zz-new-1.amazonaws.com", "aws", /unexpected hostname/);
  assert.equal(accepts("sts.zz-new-1.amazonaws.com", "aws", "zz-new-1"), "zz-new-1");
  assert.equal(accepts("sts.zz-new-1.api.aws", "aws", "zz-new-1"), "zz-new-1");
  rejects("sts-fips.zz-new-1.amazonaws.com", "aws", /unexpected hostname/, "zz-new-1");
  rejects("sts.zz-new-2.amazonaws.com", "aws", /unexpected hostname/, "zz-new-1");
  rejects("sts.zz-new-1.amazonaws.com.cn", "aws", /unexpected hostname/, "zz-new-1");
  assert.equal(accepts("sts.zz-new-1.amazonaws.com.cn", "aws-cn", "zz-new-1"), "zz-new-1");
  // An invalid instance region disables the fallback.
  rejects("sts.zz-new-1.amazonaws.com", "aws", /unexpected hostname/, "-bad-");
});

Deno.test("the Go tool's host-check cases and the global hole (cases 14, 15, 51)", () => {
  rejects("", "aws", "could not parse region for pre-signed URL , host is empty");
  rejects("sts.com", "aws", /^could not parse region .* invalid host format: sts.com$/);
  rejects("amazonaws.com", "aws", /invalid host format: amazonaws.com/);
  rejects(
    "sts.global.attacker.example",
    "aws",
    /^could not parse region for pre-signed URL sts.global.attacker.example, /,
  );
  rejects(
    "x.global.evil.com:8443",
    "aws",
    /^could not parse region for pre-signed URL x.global.evil.com:8443, /,
  );
  rejects(
    "website.amazonaws.com",
    "aws",
    'unexpected hostname "website.amazonaws.com" in pre-signed URL',
  );
  rejects(
    "sts.us_east_1.amazonaws.com",
    "aws",
    "invalid region identifier format provided: us_east_1",
  );
  rejects("sts.us-west-2.amazonaws.com.evil.com", "aws", /unexpected hostname/);
  rejects("evil.us-west-2.amazonaws.com", "aws", /unexpected hostname/);
  rejects("sts.us-west-2.evil.com", "aws", /unexpected hostname/);
  rejects(
    "sts.cn-north-1.amazonaws.com.cn",
    "aws",
    "partition {aws} does not support hostname sts.cn-north-1.amazonaws.com.cn",
  );
  rejects(
    "sts.us-west-2.amazonaws.com",
    "aws-cn",
    "partition {aws-cn} does not support hostname sts.us-west-2.amazonaws.com",
  );
  // aws and aws-us-gov share amazonaws.com; unlike the Go tool each accepts only its own regions.
  rejects("sts.us-gov-east-1.amazonaws.com", "aws", /partition \{aws\} does not support/);
  rejects("sts.us-east-1.amazonaws.com", "aws-us-gov", /partition \{aws-us-gov\} does not support/);
});

Deno.test("STS override: origin only, metric label from the host", () => {
  assert.deepEqual(parseStsOverride("http://127.0.0.1:4566"), {
    origin: "http://127.0.0.1:4566",
    stsRegion: "custom",
  });
  assert.deepEqual(parseStsOverride("https://STS.example.com:443/some/path"), {
    origin: "https://sts.example.com",
    stsRegion: "custom",
  });
  assert.equal(
    parseStsOverride("https://vpce-1.sts.us-gov-west-1.vpce.amazonaws.com").stsRegion,
    "us-gov-west-1",
  );
});
