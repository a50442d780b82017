// pino logger factory. No singleton: cli/ builds one root logger and hands children to components.

import { pino, type DestinationStream, type Logger } from "pino";

export type { Logger } from "pino";

export interface LoggerOptions {
  level: string;
  /** Defaults to stdout; tests pass a stream to read what was logged. */
  destination?: DestinationStream;
}

/** Fields that could carry credentials are never written. */
const REDACT = [
  "password",
  "token",
  "*.password",
  "*.token",
  "*.pass",
  "*.user",
  "*.nkey",
  "*.creds",
];

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      redact: { paths: REDACT, censor: "[redacted]" },
      base: { app: "hami" },
    },
    options.destination,
  );
}
