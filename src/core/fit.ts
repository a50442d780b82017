// Device fit (DESIGN.md section 3): can this node hold every GPU container of a pod, and on which
// devices? Pure: the node's devices and their current usage come in, a plan or the counted reasons
// for refusal go out. Generic over vendors (vendor.ts): the vendor judges one device's capacity and
// what a container takes there. Reservation is the caller's business (at bind, against the live
// view).

import {
  maxOf,
  NO_USAGE,
  plus,
  sliceUsage,
  type ContainerDevice,
  type Device,
  type DeviceUsage,
  type PodDevices,
} from "./device.js";
import type { GPUPolicy, PodPreferences } from "./pod-annotations.js";
import { topologyChoice, type PairScores } from "./topology.js";
import type { DeviceRequest, PodRequest } from "./pod-request.js";
import { FitReason } from "./reasons.js";
import type { Vendor } from "./vendor.js";

export interface NodeState {
  name: string;
  devices: readonly Device[];
  /** Usage by the pods already on the node (this pod excluded), aligned with `devices`. */
  usage: readonly DeviceUsage[];
  /** The node's published GPU pair scores (topology.ts), when it has them. */
  pairScores?: PairScores;
}

/** Ranks the devices a one-device container could take, lower is better: `usage` is every device's
 * usage with this pod's earlier containers, `slice` what the container takes at `position`. The
 * fgd node policy gives the node's fragmentation after the placement (fragmentation.ts). */
export type DeviceCost = (
  devices: readonly Device[],
  usage: readonly DeviceUsage[],
  choice: { position: number; slice: DeviceUsage },
) => number;

export interface FitOptions {
  gpuPolicy: GPUPolicy;
  preferences: PodPreferences;
  /** Whose devices these are: their capacity rules and what a container takes. */
  vendor: Vendor;
  /** When set, a one-device container takes the cheapest device; ties go by gpuPolicy order. */
  deviceCost?: DeviceCost | undefined;
}

export type FitResult =
  | {
      fits: true;
      devices: PodDevices;
      /** The node's usage once the pod is placed, aligned with the node's devices. */
      after: DeviceUsage[];
    }
  | {
      fits: false;
      reason: FitReason;
      /** How many devices were refused for each reason, for the container that did not fit. */
      counts: Partial<Record<FitReason, number>>;
      message: string;
    };

function matchesAny(value: string, needles: readonly string[]): boolean {
  const haystack = value.toLowerCase();
  return needles.some((needle) => haystack.includes(needle.toLowerCase()));
}

/** Per type preference list (one per pod request), whether each device type passes it: device
 * types are few and filters run for every device of every node, so the verdicts are kept in two
 * short arrays scanned by identity-or-equality (cheaper than hashing a string per device). */
interface TypeVerdicts {
  types: string[];
  matches: boolean[];
}
const TYPES_KEPT = 32;
const typeVerdicts = new WeakMap<readonly string[], TypeVerdicts>();

function verdictsFor(needles: readonly string[]): TypeVerdicts {
  let verdicts = typeVerdicts.get(needles);
  if (verdicts === undefined) {
    verdicts = { types: [], matches: [] };
    typeVerdicts.set(needles, verdicts);
  }
  return verdicts;
}

function typeMatches(type: string, needles: readonly string[]): boolean {
  const { types, matches } = verdictsFor(needles);
  for (let i = 0; i < types.length; i++) if (types[i] === type) return matches[i] === true;
  const match = matchesAny(type, needles);
  if (types.length < TYPES_KEPT) {
    types.push(type);
    matches.push(match);
  }
  return match;
}

function filterReason(device: Device, prefs: PodPreferences): FitReason | undefined {
  if (!device.healthy) return FitReason.CardNotHealthy;
  if (device.cordoned === true) return FitReason.CardCordoned;
  if (prefs.useGPUUUID !== undefined && !prefs.useGPUUUID.includes(device.uuid))
    return FitReason.CardUuidMismatch;
  if (prefs.nouseGPUUUID?.includes(device.uuid) === true) return FitReason.CardUuidMismatch;
  return typeReason(device, prefs);
}

/** Whether a device type passes the pod's type lists (use-gputype, nouse-gputype). */
export function typeAllowed(type: string, prefs: PodPreferences): boolean {
  if (prefs.useGPUType !== undefined && !typeMatches(type, prefs.useGPUType)) return false;
  return prefs.nouseGPUType === undefined || !typeMatches(type, prefs.nouseGPUType);
}

/** HAMi's checkType: the type lists, and the pod's mode annotation containing the device's mode. */
function typeReason(device: Device, prefs: PodPreferences): FitReason | undefined {
  if (!typeAllowed(device.type, prefs)) return FitReason.CardTypeMismatch;
  if (prefs.vgpuMode !== undefined && !prefs.vgpuMode.includes(device.mode))
    return FitReason.CardTypeMismatch;
  return undefined;
}

/** Why one device cannot take one slice of this request, or undefined when it can: the generic
 * filters, the share count and the mutex policy, then the vendor's capacity rules. */
export function deviceReason(
  device: Device,
  used: DeviceUsage,
  request: DeviceRequest,
  options: FitOptions,
): FitReason | undefined {
  const filtered = filterReason(device, options.preferences);
  if (filtered !== undefined) return filtered;
  if (used.slots >= device.splitCount) return FitReason.CardTimeSlicingExhausted;
  if (options.gpuPolicy.mutex && used.slots > 0) return FitReason.ExclusiveDeviceAllocateConflict;
  return options.vendor.capacityReason(device, used, request);
}

/** Load of a device in 0..1: the mean of its slot, memory and core fractions. */
export function deviceLoad(device: Device, used: DeviceUsage): number {
  return loadOn(device, used.slots, used.memoryMiB, used.cores);
}

/** deviceLoad with the slots, MiB and cores in use as numbers. */
export function loadOn(device: Device, slots: number, memoryMiB: number, cores: number): number {
  return (
    (slots / Math.max(1, device.splitCount) +
      memoryMiB / Math.max(1, device.memoryMiB) +
      cores / Math.max(1, device.cores)) /
    3
  );
}

function better(load: number, best: number, binpack: boolean): boolean {
  return binpack ? load > best : load < best;
}

/** Candidate device positions with their loads, as gathered by fitContainer; with a deviceCost,
 * the cost and every device's usage with this pod's earlier containers too. */
interface Candidates {
  positions: number[];
  loads: number[];
  ranked: { cost: DeviceCost; usage: DeviceUsage[] } | undefined;
}

/** Positions in policy order: binpack most loaded first, spread least; ties to the lower position.
 * An insertion sort (stable, no closures): a node has a handful of candidate devices. */
function ordered(candidates: Candidates, binpack: boolean): number[] {
  const order = candidates.positions.slice();
  const loads = candidates.loads.slice();
  for (let i = 1; i < order.length; i++) {
    const position = order[i] ?? 0;
    const load = loads[i] ?? 0;
    let j = i - 1;
    while (j >= 0 && better(load, loads[j] ?? 0, binpack)) {
      order[j + 1] = order[j] ?? 0;
      loads[j + 1] = loads[j] ?? 0;
      j--;
    }
    order[j + 1] = position;
    loads[j + 1] = load;
  }
  return order;
}

function numaGroups(devices: readonly Device[], order: number[]): number[][] {
  const groups = new Map<number, number[]>();
  for (const position of order) {
    const numa = devices[position]?.numa ?? 0;
    groups.set(numa, [...(groups.get(numa) ?? []), position]);
  }
  return [...groups.values()];
}

/** The first `count` positions in policy order on one NUMA node. */
function onOneNuma(
  devices: readonly Device[],
  order: number[],
  count: number,
): number[] | undefined {
  return numaGroups(devices, order)
    .find((group) => group.length >= count)
    ?.slice(0, count);
}

/** Policy order, but NUMA node by NUMA node: a group that can hold the whole request first. */
function numaFirst(devices: readonly Device[], order: number[], count: number): number[] {
  const groups = numaGroups(devices, order);
  const whole = groups.filter((group) => group.length >= count);
  const partial = groups.filter((group) => group.length < count);
  return [...whole, ...partial].flat();
}

/** The index of the most (binpack) or least loaded candidate; ties to the first. */
function bestLoaded(loads: readonly number[], binpack: boolean): number {
  let best = 0;
  for (let i = 1; i < loads.length; i++)
    if (better(loads[i] ?? 0, loads[best] ?? 0, binpack)) best = i;
  return best;
}

/** topology-aware on a node with pair scores: HAMi's best-connected set (topology.ts). */
function byTopology(
  node: NodeState,
  positions: readonly number[],
  count: number,
  scores: PairScores,
): number[] {
  const uuids = positions.map((p) => node.devices[p]?.uuid ?? "");
  return topologyChoice(uuids, count, scores).map((i) => positions[i] ?? 0);
}

const COST_EPSILON = 1e-9;

/** The candidate (an index into candidates) a one-device container takes: the one with the lowest
 * deviceCost, ties by policy order; without a deviceCost, the first in policy order. */
function oneDevice(
  node: NodeState,
  candidates: Candidates,
  request: DeviceRequest,
  options: FitOptions,
): number {
  const { positions, loads, ranked } = candidates;
  const binpack = options.gpuPolicy.order === "binpack";
  if (ranked === undefined) return bestLoaded(loads, binpack);
  let best = 0;
  let bestCost = Infinity;
  for (let k = 0; k < positions.length; k++) {
    const position = positions[k] ?? 0;
    const used = ranked.usage[position] ?? NO_USAGE;
    const slice = sliceUsage(options.vendor.slice(node.devices[position] as Device, used, request));
    const c = ranked.cost(node.devices, ranked.usage, { position, slice });
    const tie = Math.abs(c - bestCost) <= COST_EPSILON;
    if ((!tie && c < bestCost) || (tie && better(loads[k] ?? 0, loads[best] ?? 0, binpack))) {
      best = k;
      bestCost = Math.min(c, bestCost);
    }
  }
  return best;
}

/** Picks `request.count` device positions in policy order, all on one NUMA node when the pod asks
 * for NUMA binding. */
function pick(
  node: NodeState,
  candidates: Candidates,
  request: DeviceRequest,
  options: FitOptions,
): number[] | undefined {
  const { devices, pairScores } = node;
  const { positions } = candidates;
  const { count } = request;
  if (positions.length < count) return undefined;
  const binpack = options.gpuPolicy.order === "binpack";
  const numaBind = options.preferences.numaBind === true;
  if (options.gpuPolicy.topology === true && pairScores !== undefined && !numaBind)
    return byTopology(node, positions, count, pairScores);
  if (count === 1 && !numaBind)
    return [positions[oneDevice(node, candidates, request, options)] ?? 0];
  const order = ordered(candidates, binpack);
  if (numaBind) return onOneNuma(devices, order, count);
  return (options.gpuPolicy.numa ? numaFirst(devices, order, count) : order).slice(0, count);
}

/** Device reasons with their counts, most common first ("7 CardUuidMismatch, 1 CardCordoned"). */
export function describeCounts(counts: Partial<Record<FitReason, number>>): string {
  return Object.entries(counts)
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))
    .map(([reason, n]) => `${n} ${reason}`)
    .join(", ");
}

function fitContainer(
  node: NodeState,
  extra: readonly (DeviceUsage | undefined)[],
  slot: { name: string; request: DeviceRequest },
  options: FitOptions,
): number[] | Extract<FitResult, { fits: false }> {
  const { request } = slot;
  let counts: Partial<Record<FitReason, number>> | undefined;
  const { deviceCost } = options;
  const ranked: Candidates["ranked"] =
    deviceCost === undefined ? undefined : { cost: deviceCost, usage: [] };
  const candidates: Candidates = { positions: [], loads: [], ranked };
  const { devices } = node;
  for (let i = 0; i < devices.length; i++) {
    const device = devices[i] as Device;
    const used = plus(node.usage[i] ?? NO_USAGE, extra[i]);
    if (ranked !== undefined) ranked.usage.push(used);
    const reason = deviceReason(device, used, request, options);
    if (reason === undefined) {
      candidates.positions.push(i);
      candidates.loads.push(deviceLoad(device, used));
    } else {
      counts ??= {};
      counts[reason] = (counts[reason] ?? 0) + 1;
    }
  }
  const fit = { candidates: candidates.positions.length, devices: devices.length };
  return pick(node, candidates, request, options) ?? refusal(slot, fit, counts ?? {});
}

/** Why a container found too few devices on the node, with the devices' reasons counted. */
export function refusal(
  slot: { name: string; request: DeviceRequest },
  fit: { candidates: number; devices: number },
  counts: Partial<Record<FitReason, number>>,
): Extract<FitResult, { fits: false }> {
  const { request } = slot;
  const { candidates, devices } = fit;
  const reason =
    devices < request.count
      ? FitReason.NodeInsufficientDevice
      : candidates >= request.count
        ? FitReason.NumaNotFit
        : FitReason.NodeUnfitPod;
  if (reason === FitReason.NumaNotFit) counts.NumaNotFit = candidates;
  const detail = describeCounts(counts);
  return {
    fits: false,
    reason,
    counts,
    message: `${reason}: container ${slot.name} needs ${request.count} GPU(s), ${candidates} of ${devices} fit${detail === "" ? "" : ` (${detail})`}`,
  };
}

const NOTHING: readonly (DeviceUsage | undefined)[] = [];

/** What this pod's containers placed so far take per device position. */
interface Placed {
  apps: (DeviceUsage | undefined)[];
  inits: (DeviceUsage | undefined)[];
  vendor: Vendor;
  /** Whether the container being placed is an init container. */
  init: boolean;
}

/** One container's slices on the chosen positions, added to what the pod placed so far. */
function place(
  node: NodeState,
  positions: readonly number[],
  request: DeviceRequest,
  placed: Placed,
): ContainerDevice[] {
  const { apps, inits, vendor, init } = placed;
  const slices: ContainerDevice[] = [];
  for (const position of positions) {
    const used = plus(node.usage[position] ?? NO_USAGE, init ? undefined : apps[position]);
    const slice = vendor.slice(node.devices[position] as Device, used, request);
    const one = sliceUsage(slice);
    if (init) inits[position] = maxOf(inits[position], one);
    else apps[position] = plus(one, apps[position]);
    slices.push(slice);
  }
  return slices;
}

/** Plans every GPU container of a pod on one node. App containers are placed together (they run
 * together); each init container is placed against the node without this pod's app containers,
 * since init containers run alone and before them. A pod holds, per device, the larger of its app
 * containers' sum and its biggest init container. */
export function fitPod(node: NodeState, request: PodRequest, options: FitOptions): FitResult {
  if (node.devices.length === 0 && request.slots.some((s) => (s.request?.count ?? 0) > 0))
    return {
      fits: false,
      reason: FitReason.NodeNoDevices,
      counts: {},
      message: `${FitReason.NodeNoDevices}: node ${node.name} registered no GPUs`,
    };
  const apps: (DeviceUsage | undefined)[] = [];
  const inits: (DeviceUsage | undefined)[] = [];
  const placed: Placed = { apps, inits, vendor: options.vendor, init: false };
  const devices: PodDevices = [];
  for (const slot of request.slots) {
    const wanted = slot.request;
    if (wanted === undefined || wanted.count === 0) {
      devices.push([]);
      continue;
    }
    const result = fitContainer(
      node,
      slot.init ? NOTHING : apps,
      { name: slot.name, request: wanted },
      options,
    );
    if (!Array.isArray(result)) return result;
    placed.init = slot.init;
    devices.push(place(node, result, wanted, placed));
  }
  const after = node.devices.map((_, i) =>
    plus(node.usage[i] ?? NO_USAGE, maxOf(apps[i], inits[i])),
  );
  return { fits: true, devices, after };
}
