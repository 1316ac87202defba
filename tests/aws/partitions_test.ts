import assert from "node:assert/strict";
import {
  isPartitionId,
  PARTITION_IDS,
  partitionOfRegion,
  stsHostForRegion,
  stsRegionFromHost,
  stsSigningRegion,
} from "../../src/aws/mod.ts";

Deno.test("the eight partitions are known and nothing else is", () => {
  assert.equal(PARTITION_IDS.length, 8);
  for (const p of PARTITION_IDS) assert.ok(isPartitionId(p));
  for (const p of ["", "AWS", "aws-gov", "toString", "constructor"]) {
    assert.equal(isPartitionId(p), false, p);
  }
});

const regionPartition: Array<[string, string]> = [
  ["us-east-1", "aws"],
  ["us-gov-west-1", "aws-us-gov"], // listed, although the aws pattern would also fit "us-…"
  ["us-gov-north-9", "aws-us-gov"],
  ["cn-north-1", "aws-cn"],
  ["us-iso-east-1", "aws-iso"],
  ["us-isob-east-1", "aws-iso-b"],
  ["eu-isoe-west-1", "aws-iso-e"],
  ["us-isof-south-1", "aws-iso-f"],
  ["eusc-de-east-1", "aws-eusc"],
  ["xx-unknown", "aws"],
  ["ap-future-9", "aws"],
];
for (const [region, partition] of regionPartition) {
  Deno.test(`partitionOfRegion(${region}) = ${partition}`, () => {
    assert.equal(partitionOfRegion(region).id, partition);
  });
}

const hosts: Array<[string, boolean, boolean, string]> = [
  // region, fips, dualStack, host
  ["us-west-2", false, false, "sts.us-west-2.amazonaws.com"],
  ["us-west-2", true, false, "sts-fips.us-west-2.amazonaws.com"],
  ["us-west-2", false, true, "sts.us-west-2.api.aws"],
  ["us-west-2", true, true, "sts-fips.us-west-2.api.aws"],
  ["aws-global", false, false, "sts.amazonaws.com"],
  ["aws-global", true, false, "sts-fips.us-east-1.amazonaws.com"],
  ["cn-north-1", false, false, "sts.cn-north-1.amazonaws.com.cn"],
  ["cn-north-1", false, true, "sts.cn-north-1.api.amazonwebservices.com.cn"],
  ["us-gov-west-1", true, false, "sts.us-gov-west-1.amazonaws.com"],
  ["us-gov-west-1", true, true, "sts-fips.us-gov-west-1.api.aws"],
  ["us-iso-east-1", false, false, "sts.us-iso-east-1.c2s.ic.gov"],
  ["us-isob-east-1", false, false, "sts.us-isob-east-1.sc2s.sgov.gov"],
  ["eu-isoe-west-1", false, false, "sts.eu-isoe-west-1.cloud.adc-e.uk"],
  ["us-isof-south-1", false, true, "sts.us-isof-south-1.api.aws.hci.ic.gov"],
  ["eusc-de-east-1", false, false, "sts.eusc-de-east-1.amazonaws.eu"],
];
for (const [region, fips, dualStack, host] of hosts) {
  Deno.test(`stsHostForRegion(${region}, fips=${fips}, dualStack=${dualStack})`, () => {
    assert.equal(stsHostForRegion(region, { fips, dualStack }), host);
  });
}

Deno.test("aws-global signs for us-east-1", () => {
  assert.equal(stsSigningRegion("aws-global"), "us-east-1");
  assert.equal(stsSigningRegion("eu-west-1"), "eu-west-1");
});

Deno.test("stsRegionFromHost: second label, exact global, and no fake global", () => {
  assert.equal(stsRegionFromHost("sts.amazonaws.com"), "global");
  assert.equal(stsRegionFromHost("sts.us-west-2.amazonaws.com"), "us-west-2");
  assert.equal(stsRegionFromHost("sts-fips.us-east-1.amazonaws.com"), "us-east-1");
  assert.equal(stsRegionFromHost("website.amazonaws.com"), "amazonaws");
  assert.throws(() => stsRegionFromHost(""), /^Error: host is empty$/);
  assert.throws(() => stsRegionFromHost("amazonaws.com"), /invalid host format: amazonaws.com/);
  // Security case 51: the Go tool reads any "*.global.*" host as the global endpoint.
  assert.throws(
    () => stsRegionFromHost("sts.global.attacker.example"),
    /exactly sts.amazonaws.com/,
  );
  assert.throws(() => stsRegionFromHost("x.global.evil.com:8443"), /exactly sts.amazonaws.com/);
});
