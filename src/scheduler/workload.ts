// The workload the live fgd policy measures fragmentation against: the GPU requests of the pods
// placed, each counted when it is placed and weighted down as time passes (its weight halves every
// WORKLOAD_HALF_LIFE_MS), so the model follows what arrives now, also after those pods are gone.
// The FGD paper measures against the distribution of arriving tasks (Weng et al., ATC '23, 3.2).

import type { PodDevices, TaskClass } from "../core/index.js";

export const WORKLOAD_HALF_LIFE_MS = 60 * 60_000;
/** A class whose weight falls below this is forgotten. */
const FORGOTTEN = 1e-3;

/** Each container's class: its device count, and the share of a device it asks (its scarcer
 * dimension: cores or memory), to a hundredth. */
export function containerClasses(
  devices: PodDevices,
  memory: ReadonlyMap<string, number>,
): { gpus: number; share: number }[] {
  return devices.flatMap((container) => {
    const first = container[0];
    if (first === undefined) return [];
    const byMemory = first.memoryMiB / Math.max(1, memory.get(first.uuid) ?? first.memoryMiB);
    const share = Math.min(1, Math.round(Math.max(first.cores / 100, byMemory) * 100) / 100);
    return [{ gpus: container.length, share }];
  });
}

export class ArrivalWorkload {
  private readonly weights = new Map<string, TaskClass>();
  private last: number | undefined;
  private arrivals = 0;
  private readonly halfLifeMs: number;

  constructor(halfLifeMs: number = WORKLOAD_HALF_LIFE_MS) {
    this.halfLifeMs = halfLifeMs;
  }

  /** How many arrivals were counted: the classes' relative weights change only then (decay
   * scales every weight by the same factor). */
  get generation(): number {
    return this.arrivals;
  }

  arrive(classes: readonly { gpus: number; share: number }[], now: number): void {
    if (classes.length === 0) return;
    const factor =
      this.last === undefined ? 1 : 2 ** (-Math.max(0, now - this.last) / this.halfLifeMs);
    this.last = now;
    for (const [key, known] of this.weights) {
      known.weight *= factor;
      if (known.weight < FORGOTTEN) this.weights.delete(key);
    }
    for (const { gpus, share } of classes) {
      const key = `${gpus}/${share}`;
      const known = this.weights.get(key);
      if (known === undefined) this.weights.set(key, { gpus, share, weight: 1 });
      else known.weight += 1;
    }
    this.arrivals++;
  }

  /** The classes with their weights as of the last arrival (fragmentation normalises them). */
  classes(): TaskClass[] {
    return [...this.weights.values()].map((c) => ({ ...c }));
  }
}
