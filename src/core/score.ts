// Node scoring for placement, with a reason a person can read. A policy maps the node as it would be
// after placing the pod to 0..1 (higher is better); binpack and spread are HAMi's, and further
// policies plug in through NodeScorer (the placement benchmark adds a fragmentation-aware one).

import { NO_USAGE, type Device, type DeviceUsage, type HostFree } from "./device.js";
import { deviceLoad, type DeviceCost } from "./fit.js";

export interface ScoreInput {
  devices: readonly Device[];
  /** Usage before placing the pod, aligned with `devices`. */
  before: readonly DeviceUsage[];
  /** Usage after placing the pod, aligned with `devices`. */
  after: readonly DeviceUsage[];
  /** CPU and memory free on the node before and after, when the caller knows them. */
  host?: { before: HostFree; after: HostFree };
}

export interface NodeScore {
  /** 0..1, higher is better. */
  score: number;
  reason: string;
}

/** A node policy: the score with its reason; `score` alone, when given, must equal the call's
 * score (filter ranks every node and explains only the one it picks); `deviceCost`, when given,
 * chooses the device of a one-device container inside the node (fit.ts). */
export type NodeScorer = ((input: ScoreInput) => NodeScore) & {
  score?: (input: ScoreInput) => number;
  deviceCost?: DeviceCost;
  /** Set when the score is this function of the node's mean device load after placement
   * (nodeLoad) and of nothing else: filter may then rank from numbers (device-table.ts). */
  fromLoad?: (load: number) => number;
};

/** Mean load of a node's devices (0 idle .. 1 full). */
export function nodeLoad(devices: readonly Device[], usage: readonly DeviceUsage[]): number {
  if (devices.length === 0) return 0;
  let total = 0;
  for (let i = 0; i < devices.length; i++)
    total += deviceLoad(devices[i] as Device, usage[i] ?? NO_USAGE);
  return total / devices.length;
}

/** n with two decimals, as toFixed(2) but without its cost (about 0.2 us, paid per node scored). */
export function round2(n: number): string {
  const hundredths = Math.round(Math.abs(n) * 100);
  const cents = hundredths % 100;
  return `${n < 0 ? "-" : ""}${(hundredths - cents) / 100}.${cents < 10 ? "0" : ""}${cents}`;
}

const fuller = (load: number): number => load;
const emptier = (load: number): number => 1 - load;
const binpackScore = (input: ScoreInput): number => fuller(nodeLoad(input.devices, input.after));
const spreadScore = (input: ScoreInput): number => emptier(nodeLoad(input.devices, input.after));

export const nodeScorers: Readonly<Record<string, NodeScorer>> = {
  binpack: Object.assign(
    (input: ScoreInput): NodeScore => {
      const load = binpackScore(input);
      return {
        score: load,
        reason: `binpack: node load ${round2(load)} after placement (fuller is better)`,
      };
    },
    { score: binpackScore, fromLoad: fuller },
  ),
  spread: Object.assign(
    (input: ScoreInput): NodeScore => {
      const load = nodeLoad(input.devices, input.after);
      return {
        score: emptier(load),
        reason: `spread: node load ${round2(load)} after placement (emptier is better)`,
      };
    },
    { score: spreadScore, fromLoad: emptier },
  ),
};

/** Maps a 0..1 score onto the extender's 0..10 priority. */
export function extenderPriority(score: number): number {
  return Math.max(0, Math.min(10, Math.round(score * 10)));
}
