// `hami status`: per node and GPU, what is allocated (memory, cores, slots) and to which pods, read
// from the live cluster the same way the extender reads it.

import { parseArgs } from "node:util";
import { CoreV1Api } from "@kubernetes/client-node";
import { loadKubeConfig } from "../k8s/index.js";
import { ClusterView, uiState } from "../scheduler/index.js";

export const STATUS_USAGE = `usage: hami status [--kubeconfig FILE]
  per node and GPU: memory used/total, cores, slots, and the pods on it`;

export async function runStatus(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { kubeconfig: { type: "string" } },
    strict: true,
  });
  const core = loadKubeConfig(values.kubeconfig).makeApiClient(CoreV1Api);
  const view = new ClusterView({ now: () => Date.now(), registerStaleMs: 0, requireLease: false });
  for (const node of (await core.listNode()).items) view.setNode(node);
  for (const pod of (await core.listPodForAllNamespaces()).items) view.setPod(pod);
  const state = uiState(view);
  const lines: string[] = [];
  for (const node of state.nodes) {
    if (node.devices.length === 0) continue;
    lines.push(
      `${node.name}${node.unavailable === undefined ? "" : `  (unavailable: ${node.unavailable})`}`,
    );
    for (const d of node.devices) {
      const pods = d.pods.map((p) => `${p.namespace}/${p.name}`).join(", ");
      lines.push(
        `  ${d.uuid.padEnd(14)} ${d.type.padEnd(28)} mem ${String(d.memoryUsedMiB).padStart(6)}/${String(d.memoryMiB).padEnd(6)} MiB  cores ${String(d.coresUsed).padStart(3)}/${d.cores}%  slots ${d.slots}/${d.splitCount}${d.healthy ? "" : "  UNHEALTHY"}  ${pods}`,
      );
    }
  }
  process.stdout.write(`${lines.length === 0 ? "no GPU nodes registered" : lines.join("\n")}\n`);
}
