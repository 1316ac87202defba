/**
 * mapIdentity, the decision the server makes for every review, with the trace `explain` prints
 * and the reason of every way it can deny.
 */
import assert from "node:assert/strict";
import {
  mapIdentity,
  type MappingBackend,
  MappingError,
  MappingStore,
  type MapTraceEvent,
  NotMappedError,
} from "../../src/map/mod.ts";
import type { RoleMapping, UserMapping } from "../../src/config/mod.ts";
import { identity } from "./_helpers.ts";

const ACCT = "123456789012";

function backend(
  name: MappingBackend["name"],
  o: {
    roles?: Partial<RoleMapping>[];
    users?: Partial<UserMapping>[];
    accounts?: string[];
    reserved?: string[];
    strict?: boolean;
  },
): MappingBackend {
  const { store } = MappingStore.build(
    (o.roles ?? []).map((r, i) => ({
      location: `${name}.roles[${i}]`,
      value: { roleArn: "", username: "", groups: [], userId: "", ...r },
    })),
    (o.users ?? []).map((u, i) => ({
      location: `${name}.users[${i}]`,
      value: { userArn: "", username: "", groups: [], userId: "", ...u },
    })),
    o.accounts ?? [],
    { userIdStrict: o.strict },
  );
  return {
    name,
    usernamePrefixReserveList: o.reserved ?? [],
    map: (id) => store.lookupAsync(id),
    isAccountAllowed: (a) => store.isAccountAllowed(a),
  };
}

async function decide(backends: MappingBackend[], arn: string, extra = {}) {
  const trace: MapTraceEvent[] = [];
  const result = await mapIdentity(backends, identity(arn, extra), { trace: (e) => trace.push(e) })
    .then((user) => ({ user }), (error: Error) => ({ error }));
  return { ...result, trace };
}

const DEV = `arn:aws:sts::${ACCT}:assumed-role/Dev/jane`;

Deno.test("mapIdentity: the trace of a match in the second backend, rendered and prefix-checked", async () => {
  const r = await decide(
    [
      backend("MountedFile", {}),
      backend("EKSConfigMap", {
        roles: [{
          roleArn: `arn:aws:iam::${ACCT}:role/Dev`,
          username: "dev:{{SessionName}}",
          groups: ["d"],
        }],
        reserved: ["admin:"],
      }),
    ],
    DEV,
    { sessionName: "jane" },
  );
  assert.deepEqual(r.trace, [
    { event: "no_match", backend: "MountedFile" },
    {
      event: "match",
      backend: "EKSConfigMap",
      location: "EKSConfigMap.roles[0]",
      username: "dev:{{SessionName}}",
      groups: ["d"],
    },
    { event: "rendered", backend: "EKSConfigMap", username: "dev:jane", groups: ["d"] },
    { event: "reserved", backend: "EKSConfigMap", prefixes: ["admin:"], refused: false },
  ]);
  assert.deepEqual("user" in r && r.user, {
    username: "dev:jane",
    groups: ["d"],
    identityArn: `arn:aws:iam::${ACCT}:role/dev`,
  });
});

Deno.test("mapIdentity: each denial carries its reason", async () => {
  const reasonOf = async (backends: MappingBackend[], arn: string, extra = {}) => {
    const r = await decide(backends, arn, extra);
    assert.ok("error" in r, "expected a denial");
    return (r.error as MappingError | NotMappedError).reason;
  };
  const role = (username: string) => [{ roleArn: `arn:aws:iam::${ACCT}:role/Dev`, username }];
  assert.equal(await reasonOf([backend("MountedFile", {})], DEV), "map.not_mapped");
  assert.equal(
    await reasonOf([backend("MountedFile", { roles: role("admin:x"), reserved: ["admin:"] })], DEV),
    "map.reserved_prefix",
  );
  assert.equal(
    await reasonOf([backend("MountedFile", { roles: role("{{EC2PrivateDNSName}}") })], DEV, {
      sessionName: "jane",
    }),
    "map.template",
  );
  assert.equal(
    await reasonOf([backend("MountedFile", { roles: role("{{SessionName}}") })], DEV, {
      sessionName: "",
    }),
    "map.empty_username",
  );
  const strict = backend("DynamicFile", {
    roles: [{ roleArn: `arn:aws:iam::${ACCT}:role/Other`, userId: "AROADEV", username: "x" }],
    strict: true,
  });
  assert.equal(await reasonOf([strict], DEV, { userId: "AROADEV" }), "map.userid_mismatch");
  const broken: MappingBackend = {
    ...backend("CRD", {}),
    map: () => Promise.reject(new Error("informer exploded")),
  };
  assert.equal(await reasonOf([strict, broken], DEV, { userId: "AROADEV" }), "map.backend_error");
});

Deno.test("mapIdentity: account auto-mapping only when nothing maps explicitly, traced per backend", async () => {
  const r = await decide([
    backend("MountedFile", {}),
    backend("EKSConfigMap", { accounts: [ACCT] }),
  ], `arn:aws:iam::${ACCT}:user/zoe`);
  assert.deepEqual(r.trace.filter((e) => e.event === "account"), [
    { event: "account", backend: "MountedFile", accountId: ACCT, allowed: false },
    { event: "account", backend: "EKSConfigMap", accountId: ACCT, allowed: true },
  ]);
  assert.deepEqual("user" in r && r.user.groups, []);
});
