/**
 * The EKSConfigMap backend (docs/mapping.md#eksconfigmap): `kube-system/aws-auth`, followed with an
 * informer.
 *
 * `ParseMap` keeps the Go tool's quirks that users rely on: top-level keys are exact
 * (`mapRoles`, `mapUsers`, `mapAccounts`), entry field names are case-insensitive, values
 * that are empty or just quotes are skipped, and account IDs keep their literal text.
 *
 * Departures (port decisions 9, 10, 11): a key whose YAML does not parse, or is not a list,
 * keeps its last good entries instead of emptying (one typo in `mapRoles` no longer locks out
 * every node); invalid entries are dropped and logged with key and line; role ARNs are
 * canonicalized and paths stripped; the first of duplicate entries wins. Deleting the
 * ConfigMap revokes everything, as in the Go tool.
 *
 * @module
 */

import type { V1ConfigMap } from "@kubernetes/client-node";
import { type Document, isScalar, isSeq, LineCounter, parseDocument, type Scalar } from "yaml";
import {
  type DecodeAt,
  decodeList,
  type DecodeOptions,
  decodeRoleMapping,
  decodeUserMapping,
  MappingDecodeError,
  type RuleId,
  type ServerConfig,
} from "../config/mod.ts";
import { Informer, type KubeClient, kubeClientFor } from "./kube.ts";
import type { Identity, Mapper, MappingMatch, ResolvedDeps } from "./mapper.ts";
import {
  type Locate,
  LocatedEntry,
  type ParsedSections,
  ProblemReporter,
  SectionedSource,
} from "./source.ts";
import type { Problem } from "./store.ts";
import { entryOffset, indexOfPath } from "./yaml_offsets.ts";

const NAMESPACE = "kube-system";
const NAME = "aws-auth";
const KEYS = ["mapRoles", "mapUsers", "mapAccounts"] as const;

/** The most YAML aliases one data value may expand (the `yaml` package's default too). */
const MAX_ALIAS_COUNT = 100;

function isBlank(v: string): boolean {
  const t = v.trim();
  return t === "" || t === "``" || t === '""' || t === "''";
}

/** How {@link parseAwsAuth} names places. */
export interface AwsAuthParseOptions {
  /**
   * Turns an offset in one data value into a position. Default:
   * `ConfigMap kube-system/aws-auth key mapRoles line 3`, with line and column in that value.
   */
  locate?: Locate;
  /**
   * Receives each data value's parsed YAML document before it is decoded (`validate` reads
   * positions of entries and fields from it instead of parsing the text a second time).
   */
  onDocument?: (key: string, doc: Document.Parsed) => void;
}

/** Default positions: the data key, and the line and column in its value. */
function keyLocator(where: string): (lc: LineCounter | undefined) => Locate {
  return (lc) => (section, offset) => {
    if (offset === undefined || lc === undefined) return { location: `${where} key ${section}` };
    const { line, col } = lc.linePos(offset);
    return { location: `${where} key ${section} line ${line}`, line, column: col };
  };
}

/**
 * Parse the data of an aws-auth ConfigMap. Never throws; a key that cannot be read is left
 * `undefined` (keep its last good entries) and reported.
 */
export function parseAwsAuth(
  data: Readonly<Record<string, string>> | undefined,
  opts: AwsAuthParseOptions = {},
): ParsedSections {
  const problems: Problem[] = [];
  const warnings: Problem[] = [];
  const out: ParsedSections = { roles: [], users: [], accounts: [], problems, warnings };
  const defaultLocate = keyLocator(`ConfigMap ${NAMESPACE}/${NAME}`);
  const report = (
    list: Problem[],
    at: ReturnType<Locate>,
    rule: RuleId,
    message: string,
    subject?: string,
  ) =>
    list.push(subject === undefined ? { ...at, message, rule } : { ...at, message, rule, subject });
  for (const key of Object.keys(data ?? {})) {
    const known = KEYS.find((k) => k.toLowerCase() === key.toLowerCase());
    if (known !== undefined && known !== key) {
      const locate = opts.locate ?? defaultLocate(undefined);
      report(
        warnings,
        locate(key, undefined),
        "key.case",
        `key ${key} is ignored: keys are case-sensitive, did you mean ${known}?`,
      );
    }
  }
  for (const key of KEYS) {
    const text = data?.[key];
    if (text === undefined || isBlank(text)) continue;
    // A caller's locate maps offsets itself; only the default needs the line counter.
    const lc = opts.locate === undefined ? new LineCounter() : undefined;
    const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
    opts.onDocument?.(key, doc);
    const locate = opts.locate ?? defaultLocate(lc);
    const at = (offset: number | undefined) => locate(key, offset);
    const keepLast = () => {
      if (key === "mapRoles") out.roles = undefined;
      else if (key === "mapUsers") out.users = undefined;
      else out.accounts = undefined;
    };
    if (doc.errors.length > 0) {
      const err = doc.errors[0]!;
      report(
        problems,
        at(err.pos[0]),
        "syntax.yaml",
        `invalid YAML (${err.code}): ${err.message.split("\n")[0]}; keeping the last good ${key}`,
      );
      keepLast();
      continue;
    }
    const items = isSeq(doc.contents) ? doc.contents.items : undefined;
    const itemOffset = (i: number) => entryOffset(doc.contents, i);
    if (key === "mapAccounts") {
      if (doc.contents !== null && !isSeq(doc.contents)) {
        report(
          problems,
          at(0),
          "entry.type",
          "expected a list of account IDs; keeping the last good mapAccounts",
        );
        keepLast();
        continue;
      }
      // The literal text of each scalar, so an unquoted 012345678901 keeps its leading zero.
      out.accounts = (items ?? []).flatMap((item, i) => {
        if (!isScalar(item)) {
          report(problems, at(itemOffset(i)), "entry.type", "expected an account ID");
          return [];
        }
        const s = item as Scalar;
        if (s.type === "PLAIN" && s.range) return [text.slice(s.range[0], s.range[1]).trim()];
        return [String(s.value)];
      });
      continue;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (e) {
      // The yaml package stops an alias expansion bomb with a ReferenceError.
      report(
        problems,
        at(0),
        "syntax.aliases",
        `invalid YAML: ${(e as Error).message}; keeping the last good ${key}`,
      );
      keepLast();
      continue;
    }
    const decodeOpts: DecodeOptions = {
      weak: false,
      warn: (m: string, rule: RuleId, where: DecodeAt) => {
        const index = indexOfPath(where.path);
        report(
          warnings,
          at(index === undefined ? undefined : entryOffset(doc.contents, index, where.key)),
          rule,
          m,
          where.value,
        );
      },
    };
    const decodeAll = <T>(decode: (v: unknown, p: string, o: DecodeOptions) => T) =>
      decodeList(value, decode, decodeOpts, (i, err) => {
        report(problems, at(itemOffset(i)), err.rule, err.message);
      }).map(({ index, value }) => new LocatedEntry(value, index, () => at(itemOffset(index))));
    try {
      if (key === "mapRoles") out.roles = decodeAll(decodeRoleMapping);
      else out.users = decodeAll(decodeUserMapping);
    } catch (e) {
      if (!(e instanceof MappingDecodeError)) throw e;
      report(problems, at(0), e.rule, `${e.message}; keeping the last good ${key}`);
      keepLast();
    }
  }
  return out;
}

/** Mappings from `kube-system/aws-auth`. */
export class ConfigMapMapper implements Mapper {
  /** The canonical backend name. */
  readonly name = "EKSConfigMap" as const;
  /** Reserved username prefixes for this backend. */
  readonly usernamePrefixReserveList: readonly string[];
  private readonly source: SectionedSource;
  private informer: Informer<V1ConfigMap> | undefined;
  private client: KubeClient | undefined;

  /** @param config the server config; @param deps logger, metrics, Kubernetes client */
  constructor(
    private readonly config: Pick<ServerConfig, "kubeconfig" | "master" | "reservedPrefixConfig">,
    private readonly deps: ResolvedDeps,
  ) {
    this.usernamePrefixReserveList = config.reservedPrefixConfig["EKSConfigMap"] ?? [];
    this.source = new SectionedSource(
      new ProblemReporter(this.name, deps.logger, deps.metrics),
      {},
    );
  }

  /** Apply one version of the ConfigMap (exposed for tests of the parsing path). */
  applyConfigMap(cm: V1ConfigMap): void {
    this.source.apply(parseAwsAuth(cm.data));
    this.deps.logger.info("aws-auth ConfigMap loaded", {
      resourceVersion: cm.metadata?.resourceVersion,
      mappings: this.source.store.size,
    });
  }

  /** List and watch `kube-system/aws-auth`. */
  async start(signal: AbortSignal): Promise<void> {
    this.client = await kubeClientFor(this.config, this.deps.kubeConfig);
    const isAwsAuth = (cm: V1ConfigMap) => cm.metadata?.name === NAME;
    this.informer = new Informer<V1ConfigMap>({
      client: this.client,
      path: `/api/v1/namespaces/${NAMESPACE}/configmaps`,
      fieldSelector: `metadata.name=${NAME}`,
      retryDelayMs: this.deps.watchRetryDelayMs,
      logger: this.deps.logger,
      what: "aws-auth ConfigMap",
    }, {
      onAdd: (cm) => isAwsAuth(cm) && this.applyConfigMap(cm),
      onUpdate: (cm) => isAwsAuth(cm) && this.applyConfigMap(cm),
      onDelete: (cm) => {
        if (!isAwsAuth(cm)) return;
        this.deps.logger.info("aws-auth ConfigMap was deleted; its mappings are revoked");
        this.source.clear();
      },
      onFailure: () => this.deps.metrics.configmapWatchFailure(),
    });
    signal.addEventListener("abort", () => void this.close(), { once: true });
    await this.informer.start();
  }

  /** The explicit mapping for `id`, if any. */
  map(id: Identity): Promise<MappingMatch | undefined> {
    return this.source.store.lookupAsync(id);
  }

  /** Whether the account is in the ConfigMap's `mapAccounts`. */
  isAccountAllowed(accountId: string): boolean {
    return this.source.store.isAccountAllowed(accountId);
  }

  /** Stop watching. */
  async close(): Promise<void> {
    await this.informer?.stop();
    await this.client?.close();
  }
}
