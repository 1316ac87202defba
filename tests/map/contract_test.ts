/**
 * One contract, four backends: MountedFile, DynamicFile, EKSConfigMap and CRD must answer
 * the same lookups the same way (port decisions 9, 10, 11; security cases 37, 42). The
 * Kubernetes backends run against a real kube-apiserver.
 */
import assert from "node:assert/strict";
import { stringify as toYaml } from "yaml";
import { buildServerConfig } from "../../src/config/mod.ts";
import { ConfigMapMapper } from "../../src/map/config_map.ts";
import { CrdMapper } from "../../src/map/crd.ts";
import { DynamicFileMapper } from "../../src/map/dynamic_file.ts";
import { MountedFileMapper } from "../../src/map/file.ts";
import { type Mapper, resolveDeps } from "../../src/map/mapper.ts";
import { identity, recordingLogger, waitFor } from "./_helpers.ts";
import {
  deleteAwsAuth,
  deleteMapping,
  installCrd,
  type Kube,
  listMappings,
  putAwsAuth,
  putMapping,
  startKube,
} from "./_kube.ts";

const ACCT = "123456789012";

interface Entry {
  arn: string;
  username: string;
  groups?: string[];
}
interface Fixture {
  roles: Entry[];
  users: Entry[];
  accounts: string[];
}

interface Opened {
  mapper(): Mapper;
  /** Make the fixture the backend's content; resolves when lookups see it. */
  set(f: Fixture): Promise<void>;
  /** Delete the source (not for MountedFile). */
  remove?(): Promise<void>;
  close(): Promise<void>;
}

interface Harness {
  name: string;
  /** MountedFile refuses to start with an invalid entry instead of skipping it. */
  invalidStopsLoad: boolean;
  accounts: boolean;
  open(reserved: readonly string[]): Promise<Opened>;
}

let generation = 0;
const MARKER = identity("arn:aws:sts::999999999999:assumed-role/Marker/x");

/** Every fixture ends with a marker role whose username says which version is loaded. */
function withMarker(f: Fixture): { f: Fixture; marker: string } {
  const marker = `marker-${++generation}`;
  return {
    f: {
      ...f,
      roles: [...f.roles, { arn: "arn:aws:iam::999999999999:role/Marker", username: marker }],
    },
    marker,
  };
}

async function seen(m: () => Mapper, marker: string): Promise<void> {
  await waitFor(
    `backend to load ${marker}`,
    async () => (await m().map(MARKER))?.username === marker,
    20_000,
  );
}

function mountedFile(): Harness {
  return {
    name: "MountedFile",
    invalidStopsLoad: true,
    accounts: true,
    open(reserved) {
      let current: Mapper | undefined;
      const logger = recordingLogger();
      return Promise.resolve({
        mapper: () => current!,
        set(f) {
          const config = buildServerConfig({
            flags: { clusterID: "c" },
            file: {
              get: (k) =>
                ({
                  "server.maproles": f.roles.map((r) => ({
                    rolearn: r.arn,
                    username: r.username,
                    groups: r.groups,
                  })),
                  "server.mapusers": f.users.map((u) => ({
                    userarn: u.arn,
                    username: u.username,
                    groups: u.groups,
                  })),
                  "server.mapaccounts": f.accounts,
                  "server.reservedprefixconfig": [{
                    backendMode: "MountedFile",
                    usernamePrefixReserveList: reserved,
                  }],
                })[k.toLowerCase()],
            },
          });
          try {
            current = new MountedFileMapper(config, logger);
          } catch (e) {
            return Promise.reject(e);
          }
          return Promise.resolve();
        },
        close: () => current?.close() ?? Promise.resolve(),
      });
    },
  };
}

function dynamicFile(): Harness {
  return {
    name: "DynamicFile",
    invalidStopsLoad: false,
    accounts: true,
    async open(reserved) {
      const dir = await Deno.makeTempDir();
      const path = `${dir}/mapping.json`;
      const m = new DynamicFileMapper(
        {
          dynamicFilePath: path,
          dynamicFileUserIdStrict: false,
          reservedPrefixConfig: { DynamicFile: reserved },
        },
        resolveDeps({}),
        { debounceMs: 20, retryMs: 50 },
      );
      await m.start(new AbortController().signal);
      return {
        mapper: () => m,
        async set(fixture) {
          const { f, marker } = withMarker(fixture);
          await Deno.writeTextFile(
            `${dir}/.tmp`,
            JSON.stringify({
              mapRoles: f.roles.map((r) => ({
                rolearn: r.arn,
                username: r.username,
                groups: r.groups ?? [],
              })),
              mapUsers: f.users.map((u) => ({
                userarn: u.arn,
                username: u.username,
                groups: u.groups ?? [],
              })),
              mapAccounts: f.accounts,
            }),
          );
          await Deno.rename(`${dir}/.tmp`, path);
          await seen(() => m, marker);
        },
        remove: () => Deno.remove(path),
        async close() {
          await m.close();
          await Deno.remove(dir, { recursive: true });
        },
      };
    },
  };
}

function configMap(kube: () => Kube): Harness {
  return {
    name: "EKSConfigMap",
    invalidStopsLoad: false,
    accounts: true,
    async open(reserved) {
      const k = kube();
      const m = new ConfigMapMapper(
        {
          kubeconfig: k.server.kubeconfigPath,
          master: "",
          reservedPrefixConfig: { EKSConfigMap: reserved },
        },
        resolveDeps({ watchRetryDelayMs: 200 }),
      );
      await m.start(new AbortController().signal);
      return {
        mapper: () => m,
        async set(fixture) {
          const { f, marker } = withMarker(fixture);
          await putAwsAuth(k.client, {
            mapRoles: toYaml(
              f.roles.map((r) => ({
                rolearn: r.arn,
                username: r.username,
                groups: r.groups ?? [],
              })),
            ),
            mapUsers: toYaml(
              f.users.map((u) => ({
                userarn: u.arn,
                username: u.username,
                groups: u.groups ?? [],
              })),
            ),
            mapAccounts: toYaml(f.accounts),
          });
          await seen(() => m, marker);
        },
        remove: () => deleteAwsAuth(k.client),
        close: () => m.close(),
      };
    },
  };
}

function crd(kube: () => Kube): Harness {
  return {
    name: "CRD",
    invalidStopsLoad: false,
    accounts: false,
    async open(reserved) {
      const k = kube();
      const m = new CrdMapper(
        {
          kubeconfig: k.server.kubeconfigPath,
          master: "",
          reservedPrefixConfig: { CRD: reserved },
        },
        resolveDeps({ watchRetryDelayMs: 200 }),
      );
      await m.start(new AbortController().signal);
      const removeAll = async () => {
        for (const name of await listMappings(k.client)) await deleteMapping(k.client, name);
      };
      return {
        mapper: () => m,
        async set(fixture) {
          const { f, marker } = withMarker(fixture);
          await removeAll();
          // Objects are created in order; equal creation seconds are ordered by name. The
          // marker goes last: the watch delivers events in order, so once the marker is seen
          // every other object has been seen too.
          const markerEntry = f.roles[f.roles.length - 1]!;
          let i = 0;
          for (const e of [...fixture.roles, ...fixture.users, markerEntry]) {
            await putMapping(k.client, `m-${String(i++).padStart(3, "0")}`, {
              arn: e.arn,
              username: e.username,
              groups: e.groups ?? [],
            });
          }
          await seen(() => m, marker);
        },
        remove: removeAll,
        close: () => m.close(),
      };
    },
  };
}

async function contract(t: Deno.TestContext, h: Harness): Promise<void> {
  const o = await h.open(["system:", "eks:"]);
  const admin = identity(`arn:aws:sts::${ACCT}:assumed-role/Admin/alice`);
  const alice = identity(`arn:aws:iam::${ACCT}:user/ALICE`);
  try {
    await t.step(`${h.name}: name and reserved prefixes`, async () => {
      await o.set({ roles: [], users: [], accounts: [] });
      assert.equal(o.mapper().name, h.name);
      assert.deepEqual(o.mapper().usernamePrefixReserveList, ["system:", "eks:"]);
    });

    await t.step(
      `${h.name}: roles (path stripped, canonicalized) and users, templates unrendered`,
      async () => {
        await o.set({
          roles: [{
            arn: `arn:aws:iam::${ACCT}:role/team/Admin`,
            username: "admin:{{SessionName}}",
            groups: ["ops"],
          }],
          users: [{ arn: `arn:aws:iam::${ACCT}:user/Alice`, username: "alice", groups: ["devs"] }],
          accounts: [],
        });
        const got = await o.mapper().map(admin);
        assert.equal(got?.username, "admin:{{SessionName}}");
        assert.deepEqual([...(got?.groups ?? [])], ["ops"]);
        assert.equal(got?.identityArn, `arn:aws:iam::${ACCT}:role/admin`);
        assert.equal((await o.mapper().map(alice))?.username, "alice");
        assert.equal(
          await o.mapper().map(identity(`arn:aws:sts::${ACCT}:assumed-role/Other/x`)),
          undefined,
        );
        assert.equal(
          await o.mapper().map(identity(`arn:aws:sts::210987654321:assumed-role/Admin/x`)),
          undefined,
        );
      },
    );

    await t.step(`${h.name}: the first of duplicate entries wins`, async () => {
      await o.set({
        roles: [
          { arn: `arn:aws:iam::${ACCT}:role/Admin`, username: "first" },
          { arn: `arn:aws:iam::${ACCT}:role/x/ADMIN`, username: "second" },
        ],
        users: [],
        accounts: [],
      });
      assert.equal((await o.mapper().map(admin))?.username, "first");
    });

    await t.step(`${h.name}: an entry that cannot be parsed never matches`, async () => {
      const f: Fixture = {
        roles: [
          { arn: `arn:aws:iam::${ACCT}:role/Admin`, username: "admin" },
          { arn: "arn:aws:iam::bogus", username: "bad" },
          { arn: `arn:aws:iam::${ACCT}:group/Admin`, username: "bad-too" },
        ],
        users: [],
        accounts: [],
      };
      if (h.invalidStopsLoad) {
        await assert.rejects(o.set(f), /creation failed/);
        return;
      }
      await o.set(f);
      assert.equal((await o.mapper().map(admin))?.username, "admin");
      for (
        const arn of [
          `arn:aws:sts::${ACCT}:assumed-role/bogus/x`,
          `arn:aws:iam::${ACCT}:role/Admin/x`,
        ]
      ) {
        assert.notEqual((await o.mapper().map(identity(arn)))?.username, "bad");
      }
    });

    await t.step(`${h.name}: accounts (case 42)`, async () => {
      await o.set({ roles: [], users: [], accounts: [ACCT] });
      assert.equal(o.mapper().isAccountAllowed(ACCT), h.accounts);
      assert.equal(o.mapper().isAccountAllowed("210987654321"), false);
    });

    if (o.remove) {
      await t.step(`${h.name}: deleting the source revokes its mappings`, async () => {
        await o.set({
          roles: [{ arn: `arn:aws:iam::${ACCT}:role/Admin`, username: "admin" }],
          users: [],
          accounts: [ACCT],
        });
        await o.remove!();
        await waitFor(
          "revocation",
          async () => (await o.mapper().map(MARKER)) === undefined,
          20_000,
        );
        assert.equal(await o.mapper().map(admin), undefined);
        assert.equal(o.mapper().isAccountAllowed(ACCT), false);
      });
    }
  } finally {
    await o.close();
  }
}

Deno.test("mapper contract: MountedFile, DynamicFile, EKSConfigMap, CRD", async (t) => {
  const kube = await startKube();
  try {
    await installCrd(kube.client);
    for (const h of [mountedFile(), dynamicFile(), configMap(() => kube), crd(() => kube)]) {
      await contract(t, h);
    }
  } finally {
    await kube.stop();
  }
});
