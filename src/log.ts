/**
 * pino logger: JSON lines by default (for journald and log shippers), pretty
 * when stderr is a terminal. Logs go to stderr so that commands whose stdout
 * is a contract (decode, simulate, `lab --json`) stay machine-readable.
 *
 * Rooms take a child logger with the fields that identify what they talk
 * about (`group`, `channel`, `pid`), so every line about a thing names it.
 * pino's default `base` (our own pid and hostname) is left out: `pid` on a
 * line always means the child process the line is about, and a line that
 * should name one but does not is visible (journald records our pid anyway).
 */
import pino, { type Logger } from 'pino';

export type { Logger };

export interface LogOptions {
  level?: string;
  /** Force pretty (true) or JSON (false); default: pretty on a TTY. */
  pretty?: boolean;
}

export function createLogger(opts: LogOptions = {}): Logger {
  const level = opts.level ?? process.env.HEADEND_LOG_LEVEL ?? 'info';
  const pretty = opts.pretty ?? (process.stderr.isTTY === true && process.env.HEADEND_LOG_JSON !== '1');
  if (pretty) {
    return pino({
      level,
      base: undefined,
      transport: { target: 'pino-pretty', options: { destination: 2, colorize: true, translateTime: 'HH:MM:ss.l' } },
    });
  }
  return pino({ level, base: undefined }, pino.destination({ fd: 2, sync: true }));
}

/** A logger that drops everything: for tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
