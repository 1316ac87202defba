/**
 * Starts `moto_server` (installed) on an ephemeral loopback port as the EC2 peer for the
 * `{{EC2PrivateDNSName}}` tests, and creates instances in it with the real SDK.
 *
 * @module
 */

import { DescribeImagesCommand, EC2Client, RunInstancesCommand } from "@aws-sdk/client-ec2";

/** A running moto server. */
export interface Moto {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** An EC2 client pointed at it. */
  ec2: EC2Client;
  /** Start `count` instances; returns their IDs and private DNS names. */
  runInstances(count: number): Promise<{ id: string; dns: string }[]>;
  /** Kill the server and release the client. */
  stop(): Promise<void>;
}

/** Start moto and wait until it listens. */
export async function startMoto(): Promise<Moto> {
  const child = new Deno.Command("moto_server", {
    args: ["-H", "127.0.0.1", "-p", "0"],
    stdout: "null",
    stderr: "piped",
    env: { AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test" },
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  let url = "";
  const deadline = Date.now() + 30_000;
  while (url === "") {
    if (Date.now() > deadline) throw new Error(`moto_server did not start: ${buf}`);
    const { value, done } = await reader.read();
    if (done) throw new Error(`moto_server exited: ${buf}`);
    buf += value;
    const m = /Running on (http:\/\/127\.0\.0\.1:\d+)/.exec(buf);
    if (m) url = m[1]!;
  }
  // Keep draining stderr so moto never blocks on a full pipe.
  const drain = (async () => {
    try {
      while (!(await reader.read()).done) { /* discard */ }
    } catch { /* closed */ }
  })();
  const ec2 = new EC2Client({
    endpoint: url,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  return {
    url,
    ec2,
    async runInstances(count) {
      const images = await ec2.send(new DescribeImagesCommand({}));
      const imageId = images.Images?.[0]?.ImageId ?? "ami-12c6146b";
      const out = await ec2.send(
        new RunInstancesCommand({
          ImageId: imageId,
          MinCount: count,
          MaxCount: count,
          InstanceType: "t3.micro",
        }),
      );
      return (out.Instances ?? []).map((i) => ({ id: i.InstanceId!, dns: i.PrivateDnsName! }));
    },
    async stop() {
      ec2.destroy();
      child.kill("SIGTERM");
      await child.status;
      await drain;
    },
  };
}
