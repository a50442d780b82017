// The cluster in one line: GPUs, what is booked, how fragmented the free rest is (the measure the
// placement benchmark reports: Weng et al.'s fragmentation for the workload placed now), and why a
// pending GPU pod fits nowhere. Pure: nodes, classes and verdicts come in as data.

import { NO_USAGE, type Device, type DeviceUsage } from "./device.js";
import { freeShare, nodeFragmentation, type TaskClass } from "./fragmentation.js";
import { describeCounts } from "./fit.js";
import type { NodeVerdict } from "./placement.js";
import type { FitReason } from "./reasons.js";

export interface ClusterSummary {
  gpus: number;
  healthyGpus: number;
  memoryMiB: number;
  memoryAllocatedMiB: number;
  cores: number;
  coresAllocated: number;
  /** Free GPU share, summed (GPUs). */
  freeGpus: number;
  /** Of the free share, what the workload's task classes cannot use (GPUs). */
  fragmentationGpus: number;
  /** GPUs partly booked whose free share is smaller than any task class asks for. */
  fragmentedGpus: number;
}

/** The summary with what the node monitors report as used. */
export interface ClusterStatus extends ClusterSummary {
  /** Over the GPUs whose node monitor reports: what their containers' regions say is used, of
   * their memory... */
  usedMiB: number;
  usedOfMiB: number;
  gpusReporting: number;
  /** ...and what the host (NVML) says is used, where it says so. */
  hostMemoryUsedMiB: number;
  hostMemoryTotalMiB: number;
  gpusHostReporting: number;
}

const EPSILON = 1e-9;

export function clusterSummary(
  nodes: readonly { devices: readonly Device[]; usage: readonly DeviceUsage[] }[],
  classes: readonly TaskClass[],
): ClusterSummary {
  const smallest = Math.min(1, ...classes.filter((c) => c.weight > 0).map((c) => c.share));
  const summary: ClusterSummary = {
    gpus: 0,
    healthyGpus: 0,
    memoryMiB: 0,
    memoryAllocatedMiB: 0,
    cores: 0,
    coresAllocated: 0,
    freeGpus: 0,
    fragmentationGpus: 0,
    fragmentedGpus: 0,
  };
  for (const node of nodes) {
    summary.fragmentationGpus += nodeFragmentation(node, classes);
    node.devices.forEach((device, i) => {
      const used = node.usage[i] ?? NO_USAGE;
      const free = freeShare(device, used);
      summary.gpus++;
      if (device.healthy) summary.healthyGpus++;
      summary.memoryMiB += device.memoryMiB;
      summary.memoryAllocatedMiB += Math.min(used.memoryMiB, device.memoryMiB);
      summary.cores += device.cores;
      summary.coresAllocated += Math.min(used.cores, device.cores);
      summary.freeGpus += free;
      if (free > EPSILON && free + EPSILON < smallest) summary.fragmentedGpus++;
    });
  }
  return summary;
}

type Counts = Partial<Record<FitReason, number>>;

/** Why a pending GPU pod is not placed, in one line, from its per-node verdicts: per reason, the
 * first node's message and, when several nodes share the reason, the device reasons summed over
 * them (a GPU refused on a later node, e.g. cordoned, still shows). */
export function pendingReason(verdicts: readonly NodeVerdict[]): string {
  const fits = verdicts.filter((v) => v.fits).length;
  if (verdicts.length === 0) return "no GPU nodes";
  if (fits > 0) return `fits ${fits} of ${verdicts.length} nodes: waiting for kube-scheduler`;
  const byReason = new Map<string, { count: number; message: string; counts: Counts }>();
  for (const v of verdicts) {
    if (v.fits) continue;
    const known = byReason.get(v.reason) ?? { count: 0, message: v.message, counts: {} };
    known.count++;
    for (const [reason, n] of Object.entries(v.counts) as [FitReason, number][])
      known.counts[reason] = (known.counts[reason] ?? 0) + n;
    byReason.set(v.reason, known);
  }
  const parts = [...byReason.values()]
    .sort((a, b) => b.count - a.count)
    .map((r) => {
      const summed = describeCounts(r.counts);
      return r.count > 1 && summed !== ""
        ? `${r.count}: ${r.message}; devices on these ${r.count} nodes: ${summed}`
        : `${r.count}: ${r.message}`;
    });
  return `0/${verdicts.length} nodes fit (${parts.join("; ")})`;
}
