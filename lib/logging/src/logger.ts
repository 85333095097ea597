// The one logger factory: winston JSON lines for services, readable lines for the CLI, and
// child loggers per component. Messages are constant strings; data goes in fields.
import { Writable } from 'node:stream';
import winston from 'winston';
import type { LogRing } from './log-ring.js';

/** Fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** The small logging interface components receive through their dependencies. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line, e.g. `{ component: 'slot-manager' }`. */
  child(fields: LogFields): Logger;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LoggerOptions {
  /** `json`: one JSON object per line (services); `cli`: `level message key=value` (humans). */
  readonly format: 'json' | 'cli';
  /** @default 'info' */
  readonly level?: LogLevel;
  /** @default process.stdout for json, process.stderr for cli (stdout carries CLI results) */
  readonly destination?: Writable;
  /** Fields on every line, e.g. `{ service: 'node-agent', node: id }`. */
  readonly fields?: LogFields;
  /** Also keep every record in this ring (e.g. to serve a Logs RPC). */
  readonly ring?: LogRing;
}

const cliLine = winston.format.printf((info) => {
  const { level, message, timestamp: _timestamp, ...fields } = info;
  const rest = Object.entries(fields)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  return rest === '' ? `${level}: ${String(message)}` : `${level}: ${String(message)} ${rest}`;
});

/** Creates a root logger. Call once, in a program's `main.ts`. */
export function createLogger(options: LoggerOptions): Logger {
  const destination =
    options.destination ?? (options.format === 'json' ? process.stdout : process.stderr);
  const format =
    options.format === 'json'
      ? winston.format.combine(
          winston.format.timestamp(),
          winston.format.errors({ stack: true }),
          winston.format.json(),
        )
      : winston.format.combine(winston.format.errors({ stack: false }), cliLine);
  const transports: winston.transport[] = [new winston.transports.Stream({ stream: destination })];
  const ring = options.ring;
  if (ring) {
    transports.push(
      new winston.transports.Stream({
        format: winston.format.json(),
        stream: new Writable({
          objectMode: true,
          write(info: Record<string, unknown>, _encoding, done) {
            const { level, message, timestamp: _timestamp, ...fields } = info;
            ring.push({
              timeMs: Date.now(),
              level: String(level),
              message: String(message),
              fields,
            });
            done();
          },
        }),
      }),
    );
  }
  const root = winston.createLogger({
    level: options.level ?? 'info',
    defaultMeta: options.fields,
    format,
    transports,
  });
  return wrap(root);
}

function wrap(logger: winston.Logger): Logger {
  return {
    debug: (message, fields) => logger.debug(message, fields),
    info: (message, fields) => logger.info(message, fields),
    warn: (message, fields) => logger.warn(message, fields),
    error: (message, fields) => logger.error(message, fields),
    child: (fields) => wrap(logger.child(fields)),
  };
}

/** A logger that drops everything, for tests and for callers that want silence. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};
