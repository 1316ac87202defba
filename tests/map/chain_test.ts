import assert from "node:assert/strict";
import { buildServerConfig, type ServerConfig } from "../../src/config/mod.ts";
import { createDescribeInstances } from "../../src/map/ec2.ts";
import { createMapperChain, NotMappedError } from "../../src/map/mod.ts";
import { identity, recordingLogger, recordingMetrics, waitFor } from "./_helpers.ts";
import { startMoto } from "./_moto.ts";

const ACCT = "123456789012";
const OTHER = "210987654321";

function config(file: Record<string, unknown>): ServerConfig {
  const doc = { clusterID: "c", server: file };
  return buildServerConfig({
    file: {
      get(key) {
        let cur: unknown = doc;
        for (const seg of key.split(".")) {
          if (cur === null || typeof cur !== "object") return undefined;
          const hit = Object.keys(cur).find((k) => k.toLowerCase() === seg.toLowerCase());
          if (hit === undefined) return undefined;
          cur = (cur as Record<string, unknown>)[hit];
        }
        return cur;
      },
    },
  });
}

async function tempFile(name: string, content: unknown): Promise<{ dir: string; path: string }> {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, JSON.stringify(content));
  return { dir, path };
}

const FAST = { debounceMs: 20, retryMs: 50 };

Deno.test("explicit mapping in a later backend beats account auto-mapping in an earlier one (decision 8)", async () => {
  const { dir, path } = await tempFile("m.json", { mapAccounts: [ACCT] });
  const chain = await createMapperChain(
    config({
      backendMode: ["DynamicFile", "MountedFile"],
      dynamicfilepath: path,
      mapRoles: [{
        rolearn: `arn:aws:iam::${ACCT}:role/Admin`,
        username: "admin:{{SessionName}}",
        groups: ["ops"],
      }],
    }),
    {},
    FAST,
  );
  try {
    assert.deepEqual(chain.backendModes(), ["DynamicFile", "MountedFile"]);
    const admin = identity(`arn:aws:sts::${ACCT}:assumed-role/Admin/alice@corp`);
    assert.deepEqual(await chain.map(admin), {
      username: "admin:alice-corp",
      groups: ["ops"],
      identityArn: `arn:aws:iam::${ACCT}:role/admin`,
    });
    // Account auto-mapping: canonical ARN with its case, no groups.
    const dev = identity(`arn:aws:sts::${ACCT}:assumed-role/Dev/bob`);
    assert.deepEqual(await chain.map(dev), {
      username: `arn:aws:iam::${ACCT}:role/Dev`,
      groups: [],
      identityArn: `arn:aws:iam::${ACCT}:role/dev`,
    });
    // An account not listed is denied (case 42).
    await assert.rejects(
      chain.map(identity(`arn:aws:sts::${OTHER}:assumed-role/Dev/bob`)),
      (e: unknown) => e instanceof NotMappedError && e.message === "identity is not mapped",
    );
  } finally {
    await chain.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the first backend with an explicit match wins", async () => {
  const { dir, path } = await tempFile("m.json", {
    mapRoles: [{ rolearn: `arn:aws:iam::${ACCT}:role/Admin`, username: "from-dynamic" }],
  });
  const cfg = (order: string[]) =>
    config({
      backendMode: order,
      dynamicfilepath: path,
      mapRoles: [{ rolearn: `arn:aws:iam::${ACCT}:role/Admin`, username: "from-mounted" }],
    });
  const admin = identity(`arn:aws:sts::${ACCT}:assumed-role/Admin/alice`);
  for (
    const [order, want] of [[["MountedFile", "DynamicFile"], "from-mounted"], [[
      "DynamicFile",
      "File",
    ], "from-dynamic"]] as const
  ) {
    const chain = await createMapperChain(cfg([...order]), {}, FAST);
    try {
      assert.equal((await chain.map(admin)).username, want);
    } finally {
      await chain.close();
    }
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("reserved prefixes are enforced after rendering, per backend (case 38)", async () => {
  const { dir, path } = await tempFile("m.json", {
    mapRoles: [{ rolearn: `arn:aws:iam::${ACCT}:role/Dyn`, username: "{{SessionNameRaw}}" }],
  });
  const chain = await createMapperChain(
    config({
      backendMode: ["MountedFile", "DynamicFile"],
      dynamicfilepath: path,
      reservedPrefixConfig: [
        { backendmode: "MountedFile", usernamePrefixReserveList: ["system:", "eks"] },
        { backendmode: "DynamicFile", usernamePrefixReserveList: ["", "admin"] },
      ],
      mapRoles: [
        { rolearn: `arn:aws:iam::${ACCT}:role/Masters`, username: "system:masters" },
        { rolearn: `arn:aws:iam::${ACCT}:role/Eks`, username: "{{SessionName}}" },
      ],
      mapAccounts: [ACCT],
    }),
    {},
    FAST,
  );
  try {
    await assert.rejects(
      chain.map(identity(`arn:aws:sts::${ACCT}:assumed-role/Masters/x`)),
      {
        message:
          "invalid username 'system:masters' for mapper MountedFile: username must not begin with the following prefixes: [system: eks]",
      },
    );
    await assert.rejects(
      chain.map(identity(`arn:aws:sts::${ACCT}:assumed-role/Eks/eksb-test`)),
      /invalid username 'eksb-test'/,
    );
    await assert.rejects(
      chain.map(identity(`arn:aws:sts::${ACCT}:assumed-role/Dyn/admin-bob`)),
      {
        message:
          "invalid username 'admin-bob' for mapper DynamicFile: username must not begin with the following prefixes: [admin]",
      },
    );
    assert.equal(
      (await chain.map(identity(`arn:aws:sts::${ACCT}:assumed-role/Dyn/bob`))).username,
      "bob",
    );
    // Account auto-mapping is not subject to the prefixes (it is the canonical ARN).
    assert.equal(
      (await chain.map(identity(`arn:aws:sts::${ACCT}:assumed-role/Other/x`))).groups.length,
      0,
    );
  } finally {
    await chain.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("render errors and empty usernames deny with the Go-style message", async () => {
  const chain = await createMapperChain(config({
    mapRoles: [
      { rolearn: `arn:aws:iam::${ACCT}:role/Node`, username: "system:node:{{EC2PrivateDNSName}}" },
      {
        rolearn: `arn:aws:iam::${ACCT}:role/Empty`,
        username: "{{SessionName}}",
        groups: ["{{SessionName}}", "static"],
      },
    ],
    mapUsers: [{ userarn: `arn:aws:iam::${ACCT}:user/U`, username: "{{SessionName}}" }],
  }));
  // A static username with a group that needs the EC2 lookup takes the lookup's path, and its
  // error names the group template.
  const mixed = await createMapperChain(config({
    mapRoles: [{
      rolearn: `arn:aws:iam::${ACCT}:role/Mixed`,
      username: "mixed-{{SessionName}}",
      groups: ["static", "nodes:{{EC2PrivateDNSName}}"],
    }],
  }));
  try {
    await assert.rejects(chain.map(identity(`arn:aws:sts::${ACCT}:assumed-role/Node/alice`)), {
      message:
        'mapper MountedFile renderTemplates error: error rendering username template "system:node:{{EC2PrivateDNSName}}": SessionName did not contain an instance id',
    });
    await assert.rejects(mixed.map(identity(`arn:aws:sts::${ACCT}:assumed-role/Mixed/bob`)), {
      message:
        'mapper MountedFile renderTemplates error: error rendering group template "nodes:{{EC2PrivateDNSName}}": SessionName did not contain an instance id',
    });
    await assert.rejects(
      chain.map(identity(`arn:aws:iam::${ACCT}:user/U`)),
      /rendered an empty username/,
    );
    // Templates that need no lookup render in place (the synchronous path), groups in order.
    assert.deepEqual(
      await chain.map(identity(`arn:aws:sts::${ACCT}:assumed-role/Empty/carol`)),
      {
        username: "carol",
        groups: ["carol", "static"],
        identityArn: `arn:aws:iam::${ACCT}:role/empty`,
      },
    );
  } finally {
    await chain.close();
    await mixed.close();
  }
});

Deno.test("a backend that cannot decide denies; account auto-mapping does not override it", async () => {
  const { dir, path } = await tempFile("m.json", {
    mapRoles: [{
      rolearn: `arn:aws:iam::${ACCT}:role/Admin`,
      userid: "AROAADMIN",
      username: "admin",
    }],
    mapAccounts: [ACCT],
  });
  const chain = await createMapperChain(
    config({ backendMode: ["DynamicFile"], dynamicfilepath: path, dynamicfileUserIDStrict: true }),
    {},
    FAST,
  );
  try {
    const impostor = identity(`arn:aws:sts::${ACCT}:assumed-role/Other/x`, { userId: "AROAADMIN" });
    await assert.rejects(chain.map(impostor), {
      message: "mapper DynamicFile Map error: ARN does not match User ID",
    });
  } finally {
    await chain.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("MountedFile: an invalid entry stops the chain from being built", async () => {
  await assert.rejects(
    createMapperChain(config({ mapRoles: [{ rolearn: "arn:aws:iam::bad", username: "x" }] })),
    /^Error: backend-mode "MountedFile" creation failed: server\.mapRoles\[0\]: arn\.malformed: arn 'arn:aws:iam::bad' is invalid/,
  );
});

Deno.test("dynamic backend-mode file switches backends at runtime (docs/mapping.md)", async () => {
  const { dir, path: modePath } = await tempFile("mode.json", { backendMode: "MountedFile" });
  const dynPath = `${dir}/dyn.json`;
  await Deno.writeTextFile(
    dynPath,
    JSON.stringify({ mapRoles: [{ rolearn: `arn:aws:iam::${ACCT}:role/Admin`, username: "dyn" }] }),
  );
  const metrics = recordingMetrics();
  const logger = recordingLogger();
  let now = 1_700_000_100_000;
  const chain = await createMapperChain(
    config({
      backendMode: ["MountedFile", "DynamicFile"],
      dynamicfilepath: dynPath,
      dynamicBackendModePath: modePath,
      mapRoles: [{ rolearn: `arn:aws:iam::${ACCT}:role/Admin`, username: "mounted" }],
    }),
    { metrics, logger, now: () => now },
    FAST,
  );
  const admin = identity(`arn:aws:sts::${ACCT}:assumed-role/Admin/a`);
  const write = async (v: unknown) => {
    await Deno.writeTextFile(`${dir}/.tmp`, JSON.stringify(v));
    await Deno.rename(`${dir}/.tmp`, modePath);
  };
  try {
    // The file's mode applies at start.
    assert.deepEqual(chain.backendModes(), ["MountedFile"]);
    assert.equal(metrics.gauges.dynamicFileEnabled, 0);
    now = 1_700_000_200_000;
    await write({ backendMode: "DynamicFile", LastUpdatedDateTime: "1700000195" });
    await waitFor(
      "switch to DynamicFile",
      () => chain.backendModes().join() === "DynamicFile",
      2000,
    );
    assert.equal((await chain.map(admin)).username, "dyn");
    assert.equal(metrics.gauges.dynamicFileOnly, 1);
    assert.deepEqual(metrics.latencies, [["dynamic_backend_mode", 5]]);
    // An invalid mode keeps the current chain.
    await write({ backendMode: "DynamicFile Bogus" });
    await waitFor(
      "failure logged",
      () => logger.lines.some((l) => l.msg.startsWith("backend-mode change failed")),
      2000,
    );
    assert.deepEqual(chain.backendModes(), ["DynamicFile"]);
    // Deleting the file goes back to server.backendMode.
    await Deno.remove(modePath);
    await waitFor(
      "back to static",
      () => chain.backendModes().join() === "MountedFile,DynamicFile",
      2000,
    );
    assert.equal((await chain.map(admin)).username, "mounted");
    assert.equal(metrics.gauges.dynamicFileOnly, 0);
    assert.equal(metrics.gauges.dynamicFileEnabled, 1);
  } finally {
    await chain.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a backend-mode file others can write is warned about at start and on reload", async () => {
  const { dir, path: modePath } = await tempFile("mode.json", { backendMode: "MountedFile" });
  await Deno.chmod(dir, 0o755);
  await Deno.chmod(modePath, 0o664);
  const metrics = recordingMetrics();
  const logger = recordingLogger();
  const chain = await createMapperChain(
    config({ backendMode: ["MountedFile"], dynamicBackendModePath: modePath }),
    { metrics, logger },
    FAST,
  );
  const warnings = () =>
    logger.lines.filter((l) => l.level === "warn" && l.msg.startsWith("backend-mode file"));
  try {
    assert.equal(metrics.gauges[`mappingFileWritableByOthers:${modePath}`], 1);
    assert.equal(warnings().length, 1);
    assert.match(
      warnings()[0]!.msg,
      /^backend-mode file .*mode\.json is writable by group \(mode 0664\): .*system:masters included; run chmod g-w /,
    );
    await Deno.writeTextFile(modePath, JSON.stringify({ backendMode: "MountedFile " }));
    await waitFor("reload warned", () => warnings().length === 2, 2000);
  } finally {
    await chain.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("{{EC2PrivateDNSName}} through the chain, against moto", async () => {
  const moto = await startMoto();
  const [inst] = await moto.runInstances(1);
  const metrics = recordingMetrics();
  const chain = await createMapperChain(
    config({
      mapRoles: [{
        rolearn: `arn:aws:iam::${ACCT}:role/Node`,
        username: "system:node:{{EC2PrivateDNSName}}",
        groups: ["system:bootstrappers", "system:nodes"],
      }],
    }),
    {
      metrics,
      describeInstances: createDescribeInstances({
        roleArn: "",
        sourceArn: "",
        endpoint: moto.url,
        region: "us-east-1",
        credentials: { accessKeyId: "test", secretAccessKey: "test" },
      }),
    },
  );
  try {
    const node = identity(`arn:aws:sts::${ACCT}:assumed-role/Node/${inst!.id}`);
    assert.deepEqual(await chain.map(node), {
      username: `system:node:${inst!.dns}`,
      groups: ["system:bootstrappers", "system:nodes"],
      identityArn: `arn:aws:iam::${ACCT}:role/node`,
    });
    assert.equal(metrics.counts.ec2DescribeInstancesCall, 1);
    // A session name that is not an instance ID never reaches EC2 (case 40).
    await assert.rejects(
      chain.map(identity(`arn:aws:sts::${ACCT}:assumed-role/Node/i-evil`)),
      /SessionName did not contain an instance id/,
    );
    assert.equal(metrics.counts.ec2DescribeInstancesCall, 1);
  } finally {
    await chain.close();
    await moto.stop();
  }
});
