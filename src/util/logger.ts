/**
 * Structured logs with pino: one JSON object per line on stdout (or another file descriptor), ready for
 * journald/Loki/ELK. Secrets that reach a log call by accident — Authorization headers, passwords,
 * PINs, passphrases, private keys — are censored by pino's redaction before serialisation.
 */
import { pino } from 'pino';
import type { DestinationStream, Logger } from 'pino';
import { REDACTED } from './redact.js';

export type { Logger } from 'pino';

export interface LoggerOptions {
  /** Human-readable lines instead of JSON (for a terminal). Default false. */
  pretty?: boolean;
  /** File descriptor (1 stdout, 2 stderr), file path, or stream. Default stdout. */
  destination?: number | string | DestinationStream;
  /** Added to every line as `name`. */
  name?: string;
}

const SECRET_FIELDS = [
  'password',
  'passphrase',
  'pin',
  'secret',
  'privateKey',
  'private_key',
  'apiKey',
  'accessToken',
  'refreshToken',
];

/** Paths pino censors: secret fields at the top level and up to two levels down, and credential headers. */
export const LOG_REDACT_PATHS: readonly string[] = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
  ...SECRET_FIELDS.map((f) => `*.*.${f}`),
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
];

export function createLogger(level: string, opts: LoggerOptions = {}): Logger {
  const target = opts.destination ?? 1;
  const sink: DestinationStream =
    typeof target === 'number' || typeof target === 'string'
      ? pino.destination({ dest: target, sync: true })
      : target;
  return pino(
    {
      level,
      name: opts.name,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: [...LOG_REDACT_PATHS], censor: REDACTED },
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.pretty ? new PrettyStream(sink) : sink,
  );
}

/** `12:00:00.123 INFO  message {"key":"value"}`, written to the underlying sink. */
class PrettyStream implements DestinationStream {
  constructor(private readonly sink: DestinationStream) {}

  write(line: string): void {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.sink.write(line);
      return;
    }
    const { time, level, msg, pid: _pid, name, ...rest } = entry;
    const clock = typeof time === 'string' ? time.slice(11, 23) : '';
    const label = String(level ?? '')
      .toUpperCase()
      .padEnd(5);
    const prefix = typeof name === 'string' ? `[${name}] ` : '';
    const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
    this.sink.write(`${clock} ${label} ${prefix}${String(msg ?? '')}${extra}\n`);
  }
}
