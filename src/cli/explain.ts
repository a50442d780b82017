// `hami explain NS/POD`: asks the running extender why a pod fits or does not fit each node, and
// prints one line per node (or the JSON with --json).

import { parseArgs } from "node:util";
import { UsageError } from "./usage.js";

export const EXPLAIN_USAGE = `usage: hami explain NAMESPACE/POD [--scheduler http://127.0.0.1:8888] [--json]
  per node: fits (with score, devices and why) or the reason it does not; an HTTPS scheduler's CA
  can be given with NODE_EXTRA_CA_CERTS`;

/** The scheduler could not answer; the message says why. */
export class ExplainError extends Error {
  override readonly name = "ExplainError";
}

interface Verdict {
  node: string;
  fits: boolean;
  score?: number;
  reason: string;
  message?: string;
  devices?: { uuid: string; memoryMiB: number; cores: number }[][];
}

interface Explanation {
  pod: string;
  node?: string;
  demand: { kind: string; message?: string };
  verdicts: Verdict[];
  /** Per node, its device settings and where each came from (cluster config or nodeconfig). */
  nodeSettings?: Record<string, string>;
}

function line(v: Verdict): string {
  if (!v.fits) return `${v.node}\tno\t-\t${v.message ?? v.reason}`;
  const devices = (v.devices ?? [])
    .map((list) => list.map((d) => `${d.uuid}(${d.memoryMiB}MiB,${d.cores}%)`).join("+"))
    .filter((text) => text !== "")
    .join(" ");
  return `${v.node}\tyes\t${(v.score ?? 0).toFixed(3)}\t${devices}  ${v.reason}`;
}

export function formatExplanation(e: Explanation): string {
  const head = `pod ${e.pod}${e.node === undefined ? " (not bound)" : ` bound to ${e.node}`}`;
  if (e.demand.kind === "none") return `${head}: asks for no GPU, every node fits\n`;
  if (e.demand.kind === "invalid") return `${head}: request invalid: ${e.demand.message ?? ""}\n`;
  const settings = Object.entries(e.nodeSettings ?? {}).map(([node, text]) => `  ${node}: ${text}`);
  return (
    [
      head,
      "NODE\tFITS\tSCORE\tDEVICES / REASON",
      ...e.verdicts.map(line),
      ...(settings.length === 0
        ? []
        : ["node settings (which value won: config or nodeconfig):", ...settings]),
    ].join("\n") + "\n"
  );
}

export async function runExplain(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      scheduler: { type: "string", default: "http://127.0.0.1:8888" },
      json: { type: "boolean", default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  const target = positionals[0] ?? "";
  const [namespace, name, extra] = target.split("/");
  if (
    namespace === undefined ||
    name === undefined ||
    namespace === "" ||
    name === "" ||
    extra !== undefined
  )
    throw new UsageError(`explain needs NAMESPACE/POD, got ${JSON.stringify(target)}`);
  const url = `${values.scheduler.replace(/\/$/, "")}/explain/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;
  const response = await fetch(url).catch((error: unknown) => {
    throw new ExplainError(`cannot reach the scheduler at ${values.scheduler}: ${String(error)}`);
  });
  const body = (await response.json()) as Explanation & { Error?: string };
  if (!response.ok)
    throw new ExplainError(`scheduler answered ${response.status}: ${body.Error ?? ""}`);
  process.stdout.write(
    values.json ? `${JSON.stringify(body, null, 2)}\n` : formatExplanation(body),
  );
}
