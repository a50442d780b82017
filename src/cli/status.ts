// `hami status`: per node and GPU, what is allocated (memory, cores, slots) and to which pods, read
// from the live cluster the same way the extender reads it; with NATS, next to it what the node
// monitors say is really used (per GPU and per pod: used / limit).

import { parseArgs } from "node:util";
import { CoreV1Api } from "@kubernetes/client-node";
import { readEnv } from "../config/index.js";
import { NatsBus } from "../events/index.js";
import { loadKubeConfig } from "../k8s/index.js";
import { ClusterView, LiveUsage, uiState, type UiDevice } from "../scheduler/index.js";
import { createLogger } from "../telemetry/index.js";
import { NATS_FLAGS, NATS_USAGE, natsSettings } from "./nats-flags.js";

export const STATUS_USAGE = `usage: hami status [--kubeconfig FILE] [--nats URL]
  per node and GPU: memory booked/total, cores, slots, and the pods on it; with NATS (--nats or
  $NATS_URL, a user allowed to read HAMI_USAGE, e.g. the audit user) also what the node monitors
  report as used, per GPU and per pod (used/limit MiB)
  ${NATS_USAGE}`;

/** How long to wait for the node monitors' latest samples. */
const USAGE_WAIT_MS = 5_000;

async function liveUsage(
  settings: ReturnType<typeof natsSettings>,
): Promise<LiveUsage | undefined> {
  if (settings === undefined) return undefined;
  const log = createLogger({ level: "warn" });
  const bus = await NatsBus.start({ nats: settings, log, failFast: true });
  const usage = new LiveUsage();
  const watch = bus.usageBoard().watch((sample) => {
    usage.set(sample);
  });
  const timer = new Promise<void>((resolve) => setTimeout(resolve, USAGE_WAIT_MS).unref());
  await Promise.race([watch.caughtUp, timer]);
  await watch.stop();
  await bus.close();
  return usage;
}

/** "used N MiB (host M MiB, U% busy)" from the node monitor, or nothing without it. */
function used(d: UiDevice): string {
  if (d.host === undefined) return "";
  const host = [
    ...(d.host.memoryUsedMiB === undefined ? [] : [`host ${d.host.memoryUsedMiB} MiB`]),
    ...(d.host.utilization === undefined ? [] : [`${d.host.utilization}% busy`]),
  ];
  return `  used ${String(d.host.trackedMiB).padStart(6)} MiB${host.length === 0 ? "" : ` (${host.join(", ")})`}`;
}

function mig(p: UiDevice["pods"][number]): string {
  return p.mig === undefined ? "" : ` [MIG ${p.mig.join(", ")}]`;
}

/** A MIG GPU's free instances per profile. */
function instances(d: UiDevice): string {
  if (d.mig === undefined) return "";
  return `  MIG ${d.mig.map((m) => `${m.profile} ${m.free}/${m.total} free`).join(", ")}`;
}

function pods(d: UiDevice): string {
  return d.pods
    .map((p) =>
      p.usedMiB === undefined
        ? `${p.namespace}/${p.name}${mig(p)}`
        : `${p.namespace}/${p.name}${mig(p)} (${p.usedMiB}/${p.limitMiB ?? p.memoryMiB} MiB)`,
    )
    .join(", ");
}

export async function runStatus(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { kubeconfig: { type: "string" }, ...NATS_FLAGS },
    strict: true,
  });
  const core = loadKubeConfig(values.kubeconfig).makeApiClient(CoreV1Api);
  const view = new ClusterView({ now: () => Date.now(), registerStaleMs: 0, requireLease: false });
  for (const node of (await core.listNode()).items) view.setNode(node);
  for (const pod of (await core.listPodForAllNamespaces()).items) view.setPod(pod);
  const usage = await liveUsage(natsSettings(values, readEnv()));
  const state = uiState(view, usage === undefined ? {} : { usage });
  const lines: string[] = [];
  for (const node of state.nodes) {
    if (node.devices.length === 0) continue;
    lines.push(
      `${node.name}${node.unavailable === undefined ? "" : `  (unavailable: ${node.unavailable})`}`,
    );
    const settings = view.settings.get(node.name);
    if (settings !== undefined) lines.push(`  settings: ${settings}`);
    for (const d of node.devices) {
      lines.push(
        `  ${d.uuid.padEnd(14)} ${d.type.padEnd(28)} mem ${String(d.memoryUsedMiB).padStart(6)}/${String(d.memoryMiB).padEnd(6)} MiB  cores ${String(d.coresUsed).padStart(3)}/${d.cores}%  slots ${d.slots}/${d.splitCount}${instances(d)}${used(d)}${d.healthy ? "" : "  UNHEALTHY"}${d.cordoned ? "  CORDONED" : ""}  ${pods(d)}`,
      );
    }
  }
  process.stdout.write(`${lines.length === 0 ? "no GPU nodes registered" : lines.join("\n")}\n`);
}
