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

/**
 * Render a template that needs no EC2 lookup, synchronously: the review path renders every
 * mapping's templates, and a promise per template was a tenth of a cached review's garbage.
 *
 * @throws {Error} when the template uses `{{EC2PrivateDNSName}}` (use {@link renderTemplate}).
 */
export function renderStaticTemplate(template: string, ctx: TemplateContext): string {
  if (needsEc2(template)) {
    throw new Error("a template with {{EC2PrivateDNSName}} needs the EC2 lookup of renderTemplate");
  }
  return fill(template, ctx, "");
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
