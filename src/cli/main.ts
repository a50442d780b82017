#!/usr/bin/env node
// `hami` entry point: dispatches to one subcommand; turns usage and config errors into a clear
// message and exit code 2 instead of a stack trace.

import { ConfigError } from "../config/index.js";
import { CERTGEN_USAGE, runCertgen } from "./certgen.js";
import { UsageError } from "./usage.js";
import { runWebhook, WEBHOOK_USAGE } from "./webhook.js";

const started = performance.now();

const USAGE = `usage: hami <command> [options]
commands:
  webhook   the mutating admission webhook (HTTPS)
  certgen   webhook TLS certificates
${WEBHOOK_USAGE}
${CERTGEN_USAGE}`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case "webhook":
      return runWebhook(rest, started);
    case "certgen":
      return runCertgen(rest);
    case undefined:
    case "help":
    case "--help":
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (
    error instanceof UsageError ||
    (error instanceof TypeError &&
      "code" in error &&
      String(error.code).startsWith("ERR_PARSE_ARGS"))
  ) {
    process.stderr.write(`hami: ${error.message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (error instanceof ConfigError) {
    process.stderr.write(`hami: ${error.message}\n`);
    process.exit(2);
  }
  if (error instanceof Error && "code" in error && error.code === "EADDRINUSE") {
    process.stderr.write(
      `hami: ${error.message}: another process listens there; pick another --port\n`,
    );
    process.exit(2);
  }
  process.stderr.write(
    `hami: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
