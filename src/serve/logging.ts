/**
 * Server logging formatted like the Go tool's logrus output (`time="..." level=info msg="..."
 * key=value`, or one JSON object per line) so existing log pipelines keep parsing it. Logs go to
 * stderr, as in the Go tool, a few milliseconds at a time (see {@link LineBuffer}).
 *
 * A line is formatted where it is logged, with no logging framework in between: the server
 * writes one line per review, and routing that line through a general logger (records, sinks,
 * lazy properties) cost more CPU than the rest of a review answered from the identity cache
 * (measured with `deno task bench:server` and a CPU profile, see docs/benchmarks.md).
 *
 * Nothing here knows about tokens: the handler never passes a token or presigned URL as a field,
 * and {@link redactSecrets} scrubs error texts that could quote one.
 *
 * @module
 */

import { LineBuffer } from "./line_buffer.ts";

/** The logger shape the server code needs. */
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

/** Severity of a line, lowest first; `warning` is what logrus prints for `warn`. */
export type LogLevel = "trace" | "debug" | "info" | "warning" | "error" | "fatal";

/** One line to format. */
export interface LogRecord {
  /** Its severity. */
  level: LogLevel;
  /** The message (`msg`). */
  message: string;
  /** Wall-clock time in ms since the epoch (`time`). */
  timestamp: number;
  /** The fields after `msg`; `undefined` values are left out. */
  properties: Record<string, unknown>;
}

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

const SEVERITY: Record<LogLevel, number> = {
  trace: 0,
  debug: 1,
  info: 2,
  warning: 3,
  error: 4,
  fatal: 5,
};

/**
 * Parses a logrus level name (case-insensitive; `warn` accepted) into a level.
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

/** The keys of `properties` in logrus order (sorted); most callers already pass them sorted. */
function sortedKeys(properties: Record<string, unknown>): string[] {
  const keys = Object.keys(properties);
  for (let i = 1; i < keys.length; i++) {
    if (keys[i - 1]! > keys[i]!) return keys.sort();
  }
  return keys;
}

/** Formats a record as a logrus text line: `time="..." level=... msg="..." k=v ...`. */
export function logrusTextFormatter(record: LogRecord): string {
  let line = `time="${timeText(record.timestamp)}" level=${record.level} msg=${
    quoteIfNeeded(record.message)
  }`;
  const properties = record.properties;
  for (const key of sortedKeys(properties)) {
    const value = properties[key];
    if (value === undefined) continue;
    line += ` ${key}=${quoteIfNeeded(fieldText(value))}`;
  }
  return line + "\n";
}

/** Formats a record as a logrus JSON line: `{"level":...,"msg":...,"time":..., fields...}`. */
export function logrusJsonFormatter(record: LogRecord): string {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record.properties)) {
    if (value === undefined) continue;
    out[key] = value instanceof Error ? value.message : value;
  }
  out.level = record.level;
  out.msg = record.message;
  out.time = timeText(record.timestamp);
  return JSON.stringify(out) + "\n";
}

/** Options of {@link configureLogging}. */
export interface LoggingOptions {
  /** `text` or `json`; anything else falls back to text with a warning, as in the Go tool. */
  format: string;
  /** A logrus level name (`info`, `debug`, ...). */
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
 * Builds the server's logger (once, at startup of a long-running command): lines below the
 * verbosity are dropped before anything is formatted. Throws the Go tool's message for an
 * unknown verbosity.
 */
export function configureLogging(options: LoggingOptions): ServerLogger {
  const lowest = SEVERITY[parseLogVerbosity(options.verbosity)];
  const known = options.format === "text" || options.format === "json";
  const formatter = options.format === "json" ? logrusJsonFormatter : logrusTextFormatter;
  const write = options.write ?? bufferedStderr();
  const emitter = (level: LogLevel) => {
    if (SEVERITY[level] < lowest) return () => {};
    const urgent = SEVERITY[level] >= SEVERITY.error;
    return (message: string, properties: Record<string, unknown> = {}): void => {
      write(formatter({ level, message, timestamp: Date.now(), properties }), urgent);
    };
  };
  const logger: ServerLogger = {
    debug: emitter("debug"),
    info: emitter("info"),
    warn: emitter("warning"),
    error: emitter("error"),
  };
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
