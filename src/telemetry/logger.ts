// pino logger factory. No singleton: cli/ builds one root logger and hands children to components.
// No redaction pass: it costs a walk of every logged object on the admission hot path, so instead
// credentials are never put into log fields (URLs are logged as host:port, options never whole).

import { pino, type DestinationStream, type Logger } from "pino";

export type { Logger } from "pino";

export interface LoggerOptions {
  level: string;
  /** Defaults to stdout; tests pass a stream to read what was logged. */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino({ level: options.level, base: { app: "hami" } }, options.destination);
}
