/**
 * Username and group templates (docs/mapping.md#templates), rendered in one pass: each placeholder
 * in the template is replaced once, and text inserted by a replacement is never scanned again, so a
 * session name containing `{{AccessKeyID}}` stays literal (docs/security.md case 41). The Go tool
 * replaced placeholders one after another, which would re-expand inserted text.
 *
 * @module
 */

/** The placeholders the Go tool knows; anything else (e.g. `{{Session}}`) stays literal. */
const PLACEHOLDER = /\{\{(EC2PrivateDNSName|AccountID|SessionNameRaw|SessionName|AccessKeyID)\}\}/g;

/**
 * What `{{EC2PrivateDNSName}}` may be rendered from: an EC2 instance ID (docs/security.md case 40).
 */
export const INSTANCE_ID_SESSION = /^i-(\w{8}|\w{17})$/;

/** Values a template can refer to. */
export interface TemplateContext {
  /** `{{AccountID}}` */
  accountId: string;
  /** `{{SessionNameRaw}}`; `{{SessionName}}` is this with `@` replaced by `-`. */
  sessionName: string;
  /** `{{AccessKeyID}}` */
  accessKeyId: string;
  /** Resolves `{{EC2PrivateDNSName}}` for an instance ID. */
  privateDnsName?: (instanceId: string) => Promise<string>;
}

/** Whether a template needs the EC2 lookup. */
export function needsEc2(template: string): boolean {
  return template.includes("{{EC2PrivateDNSName}}");
}

/**
 * Render one template.
 *
 * @throws {Error} `SessionName did not contain an instance id` when `{{EC2PrivateDNSName}}` is
 * used with a session name that is not an instance ID, or the EC2 lookup's error.
 */
export async function renderTemplate(template: string, ctx: TemplateContext): Promise<string> {
  if (!needsEc2(template)) return fill(template, ctx, "");
  if (!INSTANCE_ID_SESSION.test(ctx.sessionName)) {
    throw new Error("SessionName did not contain an instance id");
  }
  if (ctx.privateDnsName === undefined) {
    throw new Error("no EC2 client is configured to resolve {{EC2PrivateDNSName}}");
  }
  return fill(template, ctx, await ctx.privateDnsName(ctx.sessionName));
}

/** A matched entry's username and groups, rendered; groups rendered empty are left out. */
export interface RenderedMapping {
  /** The rendered username (may be empty: the caller denies that). */
  username: string;
  /** The rendered groups, in order. */
  groups: string[];
}

/**
 * Render an entry's username and group templates. When none uses `{{EC2PrivateDNSName}}` the
 * result comes back at once, not as a promise: the review path renders a mapping on every
 * review, and a promise per template was a tenth of a cached review's garbage. With the lookup,
 * templates render one at a time and in order, so the first failure is the one reported.
 *
 * @throws {Error} (or rejects with it) `error rendering <username|group> template "<t>": <why>`.
 */
export function renderMapping(
  username: string,
  groups: readonly string[],
  ctx: TemplateContext,
): RenderedMapping | Promise<RenderedMapping> {
  if (needsEc2(username) || groups.some(needsEc2)) return renderWithLookup(username, groups, ctx);
  const rendered: string[] = [];
  for (const g of groups) {
    const out = fill(g, ctx, "");
    if (out !== "") rendered.push(out);
  }
  return { username: fill(username, ctx, ""), groups: rendered };
}

async function renderWithLookup(
  username: string,
  groups: readonly string[],
  ctx: TemplateContext,
): Promise<RenderedMapping> {
  const one = (kind: string, template: string): Promise<string> =>
    renderTemplate(template, ctx).catch((e) => {
      throw new Error(
        `error rendering ${kind} template ${JSON.stringify(template)}: ${(e as Error).message}`,
      );
    });
  const name = await one("username", username);
  const rendered: string[] = [];
  for (const g of groups) {
    const out = await one("group", g);
    if (out !== "") rendered.push(out);
  }
  return { username: name, groups: rendered };
}

function fill(template: string, ctx: TemplateContext, dnsName: string): string {
  return template.replace(PLACEHOLDER, (_all, name: string) => {
    switch (name) {
      case "EC2PrivateDNSName":
        return dnsName;
      case "AccountID":
        return ctx.accountId;
      case "SessionName":
        return ctx.sessionName.replaceAll("@", "-");
      case "SessionNameRaw":
        return ctx.sessionName;
      default:
        return ctx.accessKeyId;
    }
  });
}
