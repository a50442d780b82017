#!/usr/bin/env node
// `hami` entry point: dispatches to one subcommand. `hami --help`, `hami help CMD` and
// `hami CMD --help` print usage and exit 0. A user's mistake (a bad flag, a missing file, a port in
// use, a config value) prints one line naming it and exits non-zero; the stack trace only with
// LOG_LEVEL=debug. Subcommands are loaded on demand so that, e.g., `hami webhook` never pays for the
// Kubernetes client that certgen needs (cold start matters).

import { UsageError } from "./usage.js";

const started = performance.now();

interface Command {
  summary: string;
  load: () => Promise<{ run: (argv: string[]) => Promise<void>; usage: string }>;
}

const COMMANDS: Record<string, Command> = {
  webhook: {
    summary: "the mutating admission webhook (HTTPS)",
    load: async () => {
      const m = await import("./webhook.js");
      return { run: (argv) => m.runWebhook(argv, started), usage: m.WEBHOOK_USAGE };
    },
  },
  certgen: {
    summary: "webhook TLS certificates",
    load: async () => {
      const m = await import("./certgen.js");
      return { run: m.runCertgen, usage: m.CERTGEN_USAGE };
    },
  },
  events: {
    summary: "audit history and live tail of the event stream (NATS)",
    load: async () => {
      const m = await import("./events.js");
      return { run: m.runEvents, usage: m.EVENTS_USAGE };
    },
  },
  scheduler: {
    summary: "the kube-scheduler extender (and, with TLS, the webhook in the same process)",
    load: async () => {
      const m = await import("./scheduler.js");
      return { run: m.runScheduler, usage: m.SCHEDULER_USAGE };
    },
  },
  explain: {
    summary: "why a pod fits or does not fit each node",
    load: async () => {
      const m = await import("./explain.js");
      return { run: m.runExplain, usage: m.EXPLAIN_USAGE };
    },
  },
  node: {
    summary: "the per-node agent: GPU discovery, registration, device plugin, allocator",
    load: async () => {
      const m = await import("./node.js");
      return { run: m.runNode, usage: m.NODE_USAGE };
    },
  },
  bench: {
    summary: "placement benchmark: replay a GPU cluster trace through our placement",
    load: async () => {
      const m = await import("./bench.js");
      return { run: m.runBench, usage: m.BENCH_USAGE };
    },
  },
  local: {
    summary: "the whole system on this machine with simulated GPU nodes (npm start)",
    load: async () => {
      const m = await import("./local.js");
      return { run: m.runLocal, usage: m.LOCAL_USAGE };
    },
  },
  cordon: {
    summary: "no new pods on one GPU (NODE/GPU-UUID); its pods keep running",
    load: async () => {
      const m = await import("./cordon.js");
      return { run: m.runCordon, usage: m.CORDON_USAGE };
    },
  },
  uncordon: {
    summary: "undo 'hami cordon'",
    load: async () => {
      const m = await import("./cordon.js");
      return { run: m.runUncordon, usage: m.UNCORDON_USAGE };
    },
  },
  status: {
    summary: "per node and GPU: what is allocated and to which pods",
    load: async () => {
      const m = await import("./status.js");
      return { run: m.runStatus, usage: m.STATUS_USAGE };
    },
  },
};

const OVERVIEW = `usage: hami <command> [options]
commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(9)} ${c.summary}`)
  .join("\n")}
'hami <command> --help' (or 'hami help <command>') shows a command's options.`;

const wantsHelp = (argv: readonly string[]): boolean =>
  argv.includes("--help") || argv.includes("-h");

async function main(argv: string[]): Promise<void> {
  const [first, ...rest] = argv;
  const help = first === "help" || first === undefined || first === "--help" || first === "-h";
  const name = help ? rest[0] : first;
  if (name === undefined) {
    process.stdout.write(`${OVERVIEW}\n`);
    return;
  }
  const command = COMMANDS[name];
  if (command === undefined) throw new UsageError(`unknown command '${name}'`);
  const { run, usage } = await command.load();
  if (help || wantsHelp(rest)) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  await run(rest).catch((error: unknown) => {
    throw Object.assign(error instanceof Error ? error : new Error(String(error)), {
      command: name,
    });
  });
}

/**
 * Errors whose message already says what to fix, by name (matching classes would load every
 * module that defines one): printed as they are, exit code 2.
 */
const CLEAR_ERRORS = new Set([
  "ConfigError",
  "NatsSettingsError",
  "QueryError",
  "K8sConfigError",
  "ExplainError",
  "EventsError",
  "LocalError",
  "NodeConfigError",
  "CordonError",
  "DeviceFileError",
]);

/** What the user can fix: the message, its exit code; undefined for anything else. */
function userError(error: Error & { code?: unknown }, see: string): [number, string] | undefined {
  const code = typeof error.code === "string" ? error.code : "";
  if (error instanceof UsageError || code.startsWith("ERR_PARSE_ARGS"))
    return [2, `${error.message.replace(/\.$/, "")}. ${see}`];
  if (CLEAR_ERRORS.has(error.name)) return [2, error.message];
  if (code === "EADDRINUSE")
    return [2, `${error.message}: another process listens there; pick another port`];
  // Files and tools: ENOENT, EACCES, EISDIR, ENOTDIR, ECONNREFUSED and the like name the path.
  if (/^E[A-Z]+$/.test(code)) return [1, error.message];
  return undefined;
}

function failure(error: unknown, debug: boolean): { code: number; message: string } {
  const err = (error instanceof Error ? error : new Error(String(error))) as Error & {
    code?: unknown;
    command?: string;
  };
  const prefix = err.command === undefined ? "hami" : `hami ${err.command}`;
  const known = userError(err, `See '${err.command === undefined ? "hami" : prefix} --help'.`);
  const stack = debug && err.stack !== undefined ? `\n${err.stack}` : "";
  if (known !== undefined) return { code: known[0], message: `${prefix}: ${known[1]}${stack}` };
  const firstLine = err.message.split("\n")[0] ?? err.message;
  return {
    code: 1,
    message: debug
      ? `${prefix}: ${err.message}${stack}`
      : `${prefix}: ${firstLine} (LOG_LEVEL=debug shows where)`,
  };
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const { code, message } = failure(error, process.env.LOG_LEVEL === "debug");
  process.stderr.write(`${message}\n`);
  process.exit(code);
});
