#!/usr/bin/env node
// `hami` entry point: dispatches to one subcommand; turns usage and config errors into a clear
// message and exit code 2 instead of a stack trace. Subcommands are loaded on demand so that, e.g.,
// `hami webhook` never pays for the Kubernetes client that certgen needs (cold start matters).

import { UsageError } from "./usage.js";

const started = performance.now();

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = {
  webhook: async (argv) => (await import("./webhook.js")).runWebhook(argv, started),
  certgen: async (argv) => (await import("./certgen.js")).runCertgen(argv),
  events: async (argv) => (await import("./events.js")).runEvents(argv),
  scheduler: async (argv) => (await import("./scheduler.js")).runScheduler(argv),
  explain: async (argv) => (await import("./explain.js")).runExplain(argv),
  node: async (argv) => (await import("./node.js")).runNode(argv),
  bench: async (argv) => (await import("./bench.js")).runBench(argv),
  local: async (argv) => (await import("./local.js")).runLocal(argv),
  status: async (argv) => (await import("./status.js")).runStatus(argv),
};

async function usage(): Promise<string> {
  const [webhook, events, certgen, scheduler, explain, node, bench, local, status] =
    await Promise.all([
      import("./webhook.js"),
      import("./events.js"),
      import("./certgen.js"),
      import("./scheduler.js"),
      import("./explain.js"),
      import("./node.js"),
      import("./bench.js"),
      import("./local.js"),
      import("./status.js"),
    ]);
  return `usage: hami <command> [options]
commands:
  webhook   the mutating admission webhook (HTTPS)
  certgen   webhook TLS certificates
  events    audit history and live tail of the event stream (NATS)
  scheduler the kube-scheduler extender (and, with TLS, the webhook in the same process)
  explain   why a pod fits or does not fit each node
  node      the per-node agent: GPU discovery, registration, device plugin, allocator
  bench     placement benchmark: replay a GPU cluster trace through our placement
  local     the whole system on this machine with simulated GPU nodes (npm start)
  status    per node and GPU: what is allocated and to which pods
${webhook.WEBHOOK_USAGE}
${scheduler.SCHEDULER_USAGE}
${explain.EXPLAIN_USAGE}
${node.NODE_USAGE}
${bench.BENCH_USAGE}
${local.LOCAL_USAGE}
${status.STATUS_USAGE}
${events.EVENTS_USAGE}
${certgen.CERTGEN_USAGE}`;
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help") {
    process.stdout.write(`${await usage()}\n`);
    return;
  }
  const run = COMMANDS[command];
  if (run === undefined) throw new UsageError(`unknown command ${command}`);
  await run(rest);
}

/**
 * Errors whose message already says what to fix, by name (matching classes would load every
 * module that defines one): printed without a stack trace, exit code 2.
 */
const CLEAR_ERRORS = new Set([
  "ConfigError",
  "NatsSettingsError",
  "QueryError",
  "K8sConfigError",
  "ExplainError",
  "EventsError",
]);

async function failure(error: unknown): Promise<{ code: number; message: string }> {
  const parseArgsError =
    error instanceof TypeError &&
    "code" in error &&
    String(error.code).startsWith("ERR_PARSE_ARGS");
  if (error instanceof UsageError || parseArgsError)
    return { code: 2, message: `${error.message}\n${await usage()}` };
  if (error instanceof Error && CLEAR_ERRORS.has(error.name))
    return { code: 2, message: error.message };
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

main(process.argv.slice(2)).catch(async (error: unknown) => {
  const { code, message } = await failure(error);
  process.stderr.write(`hami: ${message}\n`);
  process.exit(code);
});
