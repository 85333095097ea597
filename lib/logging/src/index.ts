// Logging for programs (winston); lib/* packages accept the Logger interface or do not log.
export {
  createLogger,
  silentLogger,
  type LogFields,
  type LogLevel,
  type Logger,
  type LoggerOptions,
} from './logger.js';
export { LogRing, type LogListener, type LogRecord } from './log-ring.js';
