import assert from "node:assert/strict";
import { createDescribeInstances, Ec2PrivateDnsProvider } from "../../src/map/ec2.ts";
import type { DescribeInstancesFn } from "../../src/map/mapper.ts";
import { recordingLogger, recordingMetrics } from "./_helpers.ts";
import { startMoto } from "./_moto.ts";
import { startStsPeer } from "../peers/sts_peer.ts";

Deno.test("EC2 private DNS names through DescribeInstances against moto", async (t) => {
  const moto = await startMoto();
  const credentials = { accessKeyId: "test", secretAccessKey: "test" };
  const describe = createDescribeInstances({
    roleArn: "",
    sourceArn: "",
    endpoint: moto.url,
    region: "us-east-1",
    credentials,
  });
  const calls: string[][] = [];
  const counted: DescribeInstancesFn = (ids) => {
    calls.push([...ids]);
    return describe(ids);
  };
  try {
    const instances = await moto.runInstances(7);
    assert.equal(instances.length, 7);
    assert.ok(instances.every((i) => /^ip-/.test(i.dns)), JSON.stringify(instances));

    await t.step("concurrent lookups are batched into one call and deduplicated", async () => {
      calls.length = 0;
      const metrics = recordingMetrics();
      const p = new Ec2PrivateDnsProvider({
        describeInstances: counted,
        qps: 15,
        burst: 5,
        ttlMs: 60_000,
        now: Date.now,
        metrics,
        logger: recordingLogger(),
      });
      try {
        const ids = [...instances.map((i) => i.id), instances[0]!.id, instances[1]!.id];
        const names = await Promise.all(ids.map((id) => p.getPrivateDnsName(id)));
        assert.deepEqual(names, [
          ...instances.map((i) => i.dns),
          instances[0]!.dns,
          instances[1]!.dns,
        ]);
        assert.equal(calls.length, 1);
        assert.deepEqual([...calls[0]!].sort(), instances.map((i) => i.id).sort());
        assert.equal(metrics.counts.ec2DescribeInstancesCall, 1);
        // Cached: no further call.
        assert.equal(await p.getPrivateDnsName(instances[3]!.id), instances[3]!.dns);
        assert.equal(calls.length, 1);
      } finally {
        await p.close();
      }
    });

    await t.step(
      "an unknown instance fails alone, is not cached, and leaves nothing in flight",
      async () => {
        calls.length = 0;
        const p = new Ec2PrivateDnsProvider({
          describeInstances: counted,
          qps: 0,
          burst: 1,
          ttlMs: 60_000,
          now: Date.now,
          metrics: recordingMetrics(),
          logger: recordingLogger(),
        });
        try {
          const [known, unknown] = await Promise.allSettled([
            p.getPrivateDnsName(instances[0]!.id),
            p.getPrivateDnsName("i-0123456789abcdef0"),
          ]);
          assert.equal(known.status === "fulfilled" && known.value, instances[0]!.dns);
          assert.ok(unknown.status === "rejected");
          assert.equal(
            (unknown.reason as Error).message,
            "failed to find node i-0123456789abcdef0",
          );
          // Asked again: a new call, answered at once (the Go tool waited 5 s and failed here).
          await assert.rejects(p.getPrivateDnsName("i-0123456789abcdef0"), /failed to find node/);
          assert.equal(calls.length, 2);
        } finally {
          await p.close();
        }
      },
    );

    await t.step("the TTL expires cached names", async () => {
      calls.length = 0;
      let now = 0;
      const p = new Ec2PrivateDnsProvider({
        describeInstances: counted,
        qps: 0,
        burst: 1,
        ttlMs: 1000,
        now: () => now,
        metrics: recordingMetrics(),
        logger: recordingLogger(),
      });
      try {
        await p.getPrivateDnsName(instances[2]!.id);
        now = 999;
        await p.getPrivateDnsName(instances[2]!.id);
        assert.equal(calls.length, 1);
        now = 1000;
        await p.getPrivateDnsName(instances[2]!.id);
        assert.equal(calls.length, 2);
      } finally {
        await p.close();
      }
    });

    await t.step("the qps/burst limit applies to DescribeInstances itself", async () => {
      calls.length = 0;
      const started: number[] = [];
      const timed: DescribeInstancesFn = (ids) => {
        started.push(performance.now());
        return counted(ids);
      };
      // burst 1, 20 qps: three calls (batches of one) need at least ~100 ms.
      const p = new Ec2PrivateDnsProvider({
        describeInstances: timed,
        qps: 20,
        burst: 1,
        ttlMs: 0,
        now: Date.now,
        metrics: recordingMetrics(),
        logger: recordingLogger(),
        maxBatch: 1,
      });
      try {
        await Promise.all(instances.slice(0, 3).map((i) => p.getPrivateDnsName(i.id)));
        assert.equal(started.length, 3);
        assert.ok(
          started[2]! - started[0]! >= 90,
          `calls were not spaced: ${started.map((s) => s - started[0]!)}`,
        );
      } finally {
        await p.close();
      }
    });

    await t.step(
      "ec2DescribeInstancesRoleARN: AssumeRole first, with the sourceARN headers",
      async () => {
        const sts = await startStsPeer({
          principals: [{
            accessKeyId: "AKIABASE",
            secretAccessKey: "base-secret",
            arn: "arn:aws:iam::111122223333:user/authenticator",
            userId: "AIDABASE",
            account: "111122223333",
          }],
          roles: [{ arn: "arn:aws:iam::111122223333:role/ec2-reader", roleId: "AROAREADER" }],
        });
        try {
          const viaRole = createDescribeInstances({
            roleArn: "arn:aws:iam::111122223333:role/ec2-reader",
            sourceArn: "arn:aws:eks:us-east-1:444455556666:cluster/prod",
            endpoint: moto.url,
            stsEndpoint: sts.url,
            region: "us-east-1",
            credentials: { accessKeyId: "AKIABASE", secretAccessKey: "base-secret" },
          });
          const found = await viaRole([instances[4]!.id]);
          assert.deepEqual(found, [{
            instanceId: instances[4]!.id,
            privateDnsName: instances[4]!.dns,
          }]);
          const req = sts.lastRequest!;
          assert.equal(
            req.headers["x-amz-source-arn"],
            "arn:aws:eks:us-east-1:444455556666:cluster/prod",
          );
          assert.equal(req.headers["x-amz-source-account"], "444455556666");
          assert.equal(sts.requestCount, 1);
          // The assumed credentials are reused for the next call.
          await viaRole([instances[5]!.id]);
          assert.equal(sts.requestCount, 1);
        } finally {
          await sts.close();
        }
      },
    );

    await t.step(
      "a failing EC2 call rejects every waiter of the batch with the Go message",
      async () => {
        const broken = createDescribeInstances({
          roleArn: "",
          sourceArn: "",
          endpoint: "http://127.0.0.1:1",
          region: "us-east-1",
          credentials,
        });
        const p = new Ec2PrivateDnsProvider({
          describeInstances: broken,
          qps: 0,
          burst: 1,
          ttlMs: 1000,
          now: Date.now,
          metrics: recordingMetrics(),
          logger: recordingLogger(),
        });
        try {
          const rs = await Promise.allSettled([
            p.getPrivateDnsName("i-00000001"),
            p.getPrivateDnsName("i-00000002"),
          ]);
          for (const [i, r] of rs.entries()) {
            assert.ok(r.status === "rejected");
            assert.match(
              (r.reason as Error).message,
              new RegExp(`^failed querying private DNS from EC2 API for node i-0000000${i + 1}: `),
            );
          }
        } finally {
          await p.close();
        }
      },
    );
  } finally {
    await moto.stop();
  }
});

Deno.test("invalid role and source ARNs are rejected up front", () => {
  assert.throws(
    () => createDescribeInstances({ roleArn: "nope", sourceArn: "" }),
    /describeinstancesrole nope is not a valid arn/,
  );
  assert.throws(
    () => createDescribeInstances({ roleArn: "", sourceArn: "x:y" }),
    /incorrect ARN format for role x:y/,
  );
});
