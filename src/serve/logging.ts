/**
 * Server logging through `@logtape/logtape`, formatted like the Go tool's logrus output
 * (`time="…" level=info msg="…" key=value`, or one JSON object per line) so existing log
 * pipelines keep parsing it. Logs go to stderr, as in the Go tool, a few milliseconds at a time
 * (see {@link LineBuffer}).
 *
 * Nothing here knows about tokens: the handler never passes a token or presigned URL as a field,
 * and {@link redactSecrets} scrubs error texts that could quote one.
 *
 * @module
 */

import { configure, getLogger, type LogLevel, type LogRecord, type Sink } from "@logtape/logtape";
import { LineBuffer } from "./line_buffer.ts";

/** The logger shape the server code needs; a logtape `Logger` satisfies it. */
export interface ServerLogger {
  /** Detail useful only while debugging. */
  debug(message: string, properties?: Record<string, unknown>): void;
  /** Normal operation. */
  info(message: string, properties?: Record<string, unknown>): void;
  /** A request was denied or something recoverable went wrong. */
  warn(message: string, properties?: Record<string, unknown>): void;
  /** Something failed that an operator should look at. */
  error(message: string, properties?: Record<string, unknown>): void;
}

/** `--log-format` values. */
export type LogFormat = "text" | "json";

/** The logtape category every server logger lives under. */
export const LOG_CATEGORY = "aws-iam-authenticator";

const LOGRUS_LEVELS: Record<string, LogLevel> = {
  panic: "fatal",
  fatal: "fatal",
  error: "error",
  warning: "warning",
  warn: "warning",
  info: "info",
  debug: "debug",
  trace: "trace",
};

/**
 * Parses a logrus level name (case-insensitive; `warn` accepted) into a logtape level.
 * Throws with the Go tool's message when the name is unknown.
 */
export function parseLogVerbosity(value: string): LogLevel {
  const level = LOGRUS_LEVELS[value.toLowerCase()];
  if (level === undefined) {
    throw new Error(
      `Invalid log level "${value}". Valid values are: panic, fatal, error, warning, info, debug, trace`,
    );
  }
  return level;
}

const LOGRUS_NAME: Record<LogLevel, string> = {
  trace: "trace",
  debug: "debug",
  info: "info",
  warning: "warning",
  error: "error",
  fatal: "fatal",
};

function messageText(record: LogRecord): string {
  const message = record.message;
  // The common case (a plain message, no template values) needs no mapping.
  if (message.length === 1 && typeof message[0] === "string") return message[0];
  return message.map((part) => typeof part === "string" ? part : String(part)).join("");
}

function fieldText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Error) return value.message;
  if (Array.isArray(value)) return `[${value.map(fieldText).join(" ")}]`;
  return typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
}

const NEEDS_QUOTES_RE = /[^\w./:@\-+]/;

function quoteIfNeeded(text: string): string {
  return text === "" || NEEDS_QUOTES_RE.test(text) ? JSON.stringify(text) : text;
}

// One review line per request: the timestamp text of the current millisecond is reused.
let lastTimestamp = NaN;
let lastTimeText = "";

function timeText(timestamp: number): string {
  if (timestamp !== lastTimestamp) {
    lastTimeText = new Date(timestamp).toISOString();
    lastTimestamp = timestamp;
  }
  return lastTimeText;
}

/** Formats a record as a logrus text line: `time="…" level=… msg="…" k=v …`. */
export function logrusTextFormatter(record: LogRecord): string {
  let line = `time="${timeText(record.timestamp)}" level=${LOGRUS_NAME[record.level]} msg=${
    quoteIfNeeded(messageText(record))
  }`;
  const properties = record.properties;
  for (const key of Object.keys(properties).sort()) {
    const value = properties[key];
    if (value === undefined) continue;
    line += ` ${key}=${quoteIfNeeded(fieldText(value))}`;
  }
  return line + "\n";
}

/** Formats a record as a logrus JSON line: `{"level":…,"msg":…,"time":…, fields…}`. */
export function logrusJsonFormatter(record: LogRecord): string {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record.properties)) {
    if (value === undefined) continue;
    out[key] = value instanceof Error ? value.message : value;
  }
  out.level = LOGRUS_NAME[record.level];
  out.msg = messageText(record);
  out.time = timeText(record.timestamp);
  return JSON.stringify(out) + "\n";
}

/** Options of {@link configureLogging}. */
export interface LoggingOptions {
  /** `text` or `json`; anything else falls back to text with a warning, as in the Go tool. */
  format: string;
  /** A logrus level name (`info`, `debug`, …). */
  verbosity: string;
  /**
   * Where formatted lines go (`urgent` for errors); defaults to stderr, batched by a
   * {@link LineBuffer}.
   */
  write?: (line: string, urgent: boolean) => void;
}

/**
 * Lines to stderr through a {@link LineBuffer}: at most a few milliseconds late, errors at
 * once, and whatever is left when the process exits (Deno dispatches `unload` on `Deno.exit`).
 */
function bufferedStderr(): (line: string, urgent: boolean) => void {
  const buffer = new LineBuffer();
  globalThis.addEventListener("unload", () => buffer.flush());
  return (line, urgent) => buffer.write(line, urgent);
}

/**
 * Configures logtape for the process (once, at startup of a long-running command) and returns
 * the server's root logger. Throws the Go tool's message for an unknown verbosity.
 */
export async function configureLogging(options: LoggingOptions): Promise<ServerLogger> {
  const level = parseLogVerbosity(options.verbosity);
  const known = options.format === "text" || options.format === "json";
  const formatter = options.format === "json" ? logrusJsonFormatter : logrusTextFormatter;
  const write = options.write ?? bufferedStderr();
  const sink: Sink = (record) =>
    write(formatter(record), record.level === "error" || record.level === "fatal");
  await configure({
    reset: true,
    sinks: { out: sink },
    loggers: [
      { category: [LOG_CATEGORY], lowestLevel: level, sinks: ["out"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["out"] },
    ],
  });
  const logger = getLogger([LOG_CATEGORY]);
  if (!known) {
    logger.warn(
      `Unknown log format specified (${options.format}), will use default text formatter instead.`,
    );
  }
  return logger;
}

/** A logger that drops everything (for library users that bring no logging). */
export const silentLogger: ServerLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/**
 * Removes anything token-like from a text before it is logged: the given token itself, any
 * `k8s-aws-v1.` token, and any URL (a presigned URL carries a signature). Error messages from the
 * URL parser can quote the decoded URL, so every error text passes through here.
 */
export function redactSecrets(text: string, token?: string): string {
  let out = text;
  if (token !== undefined && token.length > 0) out = out.split(token).join("<token>");
  return out
    .replace(/k8s-aws-v1\.[A-Za-z0-9_\-=.]+/g, "<token>")
    .replace(/[a-zA-Z][a-zA-Z0-9+.\-]*:\/\/[^\s"']*/g, "<url>")
    .replace(/X-Amz-(Signature|Security-Token|Credential)=[^&\s"']*/gi, "X-Amz-$1=<redacted>");
}
