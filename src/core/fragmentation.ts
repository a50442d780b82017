// GPU fragmentation as Weng et al. define it ("Beware of Fragmentation", USENIX ATC '23): the free
// GPU share of a node that a task of a given class cannot use, averaged over the classes of the
// workload by popularity. Fragmentation-gradient placement (fgd) puts each task where this measure
// grows least. With the node's free CPU and memory given, a class the node cannot host at all
// makes every free GPU share of it a fragment, as in the paper.

import { NO_USAGE, plus, type Device, type DeviceUsage, type HostFree } from "./device.js";
import type { DeviceCost } from "./fit.js";
import type { NodeScorer } from "./score.js";

/** A kind of task in the workload: `gpus` devices, each `share` (0..1] of a GPU; `weight` its
 * popularity; optionally the CPU and host memory it needs (a node short of them cannot run it). */
export interface TaskClass {
  gpus: number;
  share: number;
  weight: number;
  cpuMilli?: number;
  memoryMiB?: number;
}

/** The share of a device still free (0..1): its scarcer dimension; none once its slots are used up. */
export function freeShare(device: Device, used: DeviceUsage): number {
  if (used.slots >= device.splitCount) return 0;
  const memory = 1 - used.memoryMiB / Math.max(1, device.memoryMiB);
  const cores = 1 - used.cores / Math.max(1, device.cores);
  return Math.max(0, Math.min(memory, cores));
}

const EPSILON = 1e-9;

function hostTooSmall(host: HostFree | undefined, task: TaskClass): boolean {
  if (host === undefined) return false;
  return host.cpuMilli < (task.cpuMilli ?? 0) || host.memoryMiB < (task.memoryMiB ?? 0);
}

/** Free GPU share (in GPUs) that one task class cannot use on a node with these free shares. */
function fragmentFor(free: readonly number[], task: TaskClass, host: HostFree | undefined): number {
  if (hostTooSmall(host, task)) return free.reduce((sum, f) => sum + f, 0);
  let total = 0;
  let usable = 0;
  let unusable = 0;
  if (task.share >= 1 - EPSILON) {
    // Whole GPUs: only untouched devices serve; the class needs `gpus` of them on this node.
    for (const f of free) {
      total += f;
      if (f >= 1 - EPSILON) usable++;
      else unusable += f;
    }
    return usable >= task.gpus ? unusable : total;
  }
  for (const f of free) {
    total += f;
    if (f + EPSILON >= task.share) usable++;
    else unusable += f;
  }
  return usable >= 1 ? unusable : total;
}

/** The measure over free shares already computed, weights normalised; with `host`, a class the
 * node lacks CPU or memory for cannot use any of its GPUs. */
function fragmentationOf(
  free: readonly number[],
  classes: readonly TaskClass[],
  host: HostFree | undefined,
): number {
  let weights = 0;
  let sum = 0;
  for (const task of classes) {
    weights += task.weight;
    sum += task.weight * fragmentFor(free, task, host);
  }
  return weights === 0 ? 0 : sum / weights;
}

/** The node's fragmentation for a workload (GPUs), weights normalised; with `host`, a class the
 * node lacks CPU or memory for cannot use any of its GPUs. */
export function nodeFragmentation(
  node: { devices: readonly Device[]; usage: readonly DeviceUsage[]; host?: HostFree },
  classes: readonly TaskClass[],
): number {
  const { devices, usage, host } = node;
  const free = devices.map((d, i) => freeShare(d, usage[i] ?? NO_USAGE));
  return fragmentationOf(free, classes, host);
}

/** The GPU inside a node, as the paper chooses it: the device whose taking leaves the node's
 * fragmentation lowest. The host's CPU and memory are left out: they are the same whichever
 * device a container takes. */
export function fragmentationCost(classes: readonly TaskClass[]): DeviceCost {
  return (devices, usage, { position, slice }) => {
    const free = devices.map((d, i) =>
      freeShare(d, i === position ? plus(usage[i] ?? NO_USAGE, slice) : (usage[i] ?? NO_USAGE)),
    );
    return fragmentationOf(free, classes, undefined);
  };
}

/** Fragmentation-gradient node policy: the smaller the growth of fragmentation, the higher the
 * score (0..1; 0.5 = unchanged). */
export function fgdScorer(classes: readonly TaskClass[]): NodeScorer {
  const scorer: NodeScorer = (input) => {
    const { devices, host } = input;
    const before = nodeFragmentation({ devices, usage: input.before, host: host?.before }, classes);
    const after = nodeFragmentation({ devices, usage: input.after, host: host?.after }, classes);
    const growth = after - before;
    const span = Math.max(1, input.devices.length);
    return {
      score: Math.max(0, Math.min(1, 0.5 - growth / (2 * span))),
      reason: `fgd: fragmentation ${before.toFixed(3)} -> ${after.toFixed(3)} GPUs (smaller growth is better)`,
    };
  };
  return Object.assign(scorer, { deviceCost: fragmentationCost(classes) });
}
