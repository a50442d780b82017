#!/usr/bin/env node
// `hami` entry point: dispatches to one subcommand; turns usage and config errors into a clear
// message and exit code 2 instead of a stack trace.

import { ConfigError } from "../config/index.js";
import { NatsSettingsError, QueryError } from "../events/index.js";
import { K8sConfigError } from "../k8s/index.js";
import { CERTGEN_USAGE, runCertgen } from "./certgen.js";
import { EVENTS_USAGE, runEvents } from "./events.js";
import { UsageError } from "./usage.js";
import { runWebhook, WEBHOOK_USAGE } from "./webhook.js";

const started = performance.now();

const USAGE = `usage: hami <command> [options]
commands:
  webhook   the mutating admission webhook (HTTPS)
  certgen   webhook TLS certificates
  events    audit history and live tail of the event stream (NATS)
${WEBHOOK_USAGE}
${EVENTS_USAGE}
${CERTGEN_USAGE}`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case "webhook":
      return runWebhook(rest, started);
    case "certgen":
      return runCertgen(rest);
    case "events":
      return runEvents(rest);
    case undefined:
    case "help":
    case "--help":
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

/** Errors whose message already says what to fix: printed without a stack trace, exit code 2. */
const CLEAR_ERRORS = [ConfigError, NatsSettingsError, QueryError, K8sConfigError];

function failure(error: unknown): { code: number; message: string } {
  if (error instanceof UsageError) return { code: 2, message: `${error.message}\n${USAGE}` };
  if (
    error instanceof TypeError &&
    "code" in error &&
    String(error.code).startsWith("ERR_PARSE_ARGS")
  ) {
    return { code: 2, message: `${error.message}\n${USAGE}` };
  }
  if (CLEAR_ERRORS.some((kind) => error instanceof kind))
    return { code: 2, message: (error as Error).message };
  if (error instanceof Error && "code" in error && error.code === "EADDRINUSE") {
    return {
      code: 2,
      message: `${error.message}: another process listens there; pick another --port`,
    };
  }
  return {
    code: 1,
    message: error instanceof Error ? (error.stack ?? error.message) : String(error),
  };
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const { code, message } = failure(error);
  process.stderr.write(`hami: ${message}\n`);
  process.exit(code);
});
