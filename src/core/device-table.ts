// Filter's fast path (the performance issue): every node's devices and their use as numbers in one
// Float64Array, so ranking one pod over thousands of nodes reads contiguous memory and allocates
// nothing per device. It answers the common case only: one GPU container, a node policy scored by
// the node's mean device load (binpack, spread), no UUID, mode or NUMA binding constraint, no
// topology or NUMA GPU policy, no quota, devices the vendor judges from numbers. Its answer is the
// one fitPod and the scorer give: the score to the bit where the pod fits, the same refusal message
// where it does not (test/unit/core/device-table.test.ts compares them on random nodes and
// requests); where it cannot answer, it says undefined and the caller takes the general path.

import { NO_USAGE, type Device, type DeviceUsage } from "./device.js";
import { deviceLoad, loadOn, refusal, typeAllowed } from "./fit.js";
import type { GPUPolicy, PodPreferences } from "./pod-annotations.js";
import { memoryOn, type DeviceRequest, type PodRequest } from "./pod-request.js";
import { FitReason } from "./reasons.js";
import type { NodeScorer } from "./score.js";
import type { Vendor } from "./vendor.js";

/** Where each number of a device sits in its stretch of a row. */
export const USED_SLOTS = 0;
export const USED_MIB = 1;
export const USED_CORES = 2;
const SPLIT_COUNT = 3;
export const CAPACITY_MIB = 4;
export const CAPACITY_CORES = 5;
/** UNHEALTHY | CORDONED | PLAIN */
const FLAGS = 6;
/** Index into DeviceTable.types. */
const TYPE = 7;
/** deviceLoad with the pods already there. */
const LOAD = 8;
const STRIDE = 9;
const UNHEALTHY = 1;
const CORDONED = 2;
/** The vendor judges it from numbers (Vendor.rows.plain). */
const PLAIN = 4;

const INITIAL_DEVICES = 16;
const NO_ROW = -1;

/** One row per node: its devices' numbers in registration order, and until when (ms) the node may
 * take pods. The owner writes a row when it reads one that is not current, marks it stale when the
 * node changes, and releases it when the node goes away (the row then serves the next new node). */
export class DeviceTable {
  /** Device type names; a row holds their index. */
  readonly types: string[] = [];
  private readonly typeIds = new Map<string, number>();
  private readonly rows = new Map<string, number>();
  private readonly free: number[] = [];
  private data = new Float64Array(0);
  /** 1 where the row holds the node as it is now. */
  private written = new Uint8Array(0);
  private until = new Float64Array(0);
  private counts = new Int32Array(0);
  private devices: (readonly Device[])[] = [];
  /** Devices a row has room for. */
  private width = INITIAL_DEVICES;

  private readonly plain: ((device: Device) => boolean) | undefined;

  /** Rows of `vendor`'s devices (its `rows.plain` marks those judged from numbers). */
  constructor(vendor: Vendor) {
    this.plain = vendor.rows?.plain;
  }

  /** The node's row, or -1 when it has none. */
  rowOf(name: string): number {
    return this.rows.get(name) ?? NO_ROW;
  }

  /** The node's row, given one (not current) if it has none. */
  assign(name: string): number {
    let row = this.rows.get(name);
    if (row === undefined) {
      row = this.free.pop() ?? this.rows.size;
      this.rows.set(name, row);
      if (row >= this.counts.length) this.grow(Math.max(64, row * 2));
    }
    return row;
  }

  /** Whether the row holds its node as it is now. */
  current(row: number): boolean {
    return this.written[row] === 1;
  }

  /** Until when (ms since the epoch) the row's node may take pods. */
  usableUntil(row: number): number {
    return this.until[row] ?? Number.NEGATIVE_INFINITY;
  }

  /** Writes a row: the node's devices, their use, until when it may take pods. */
  write(
    row: number,
    devices: readonly Device[],
    usage: readonly DeviceUsage[],
    until: number,
  ): void {
    if (devices.length > this.width) this.widen(devices.length);
    this.fill(row, devices, usage);
    this.until[row] = until;
    this.written[row] = 1;
  }

  /** The node changed: its row is written again when next read. */
  invalidate(name: string): void {
    const row = this.rows.get(name);
    if (row !== undefined) this.written[row] = 0;
  }

  /** A node gone: its row serves the next new node. */
  release(name: string): void {
    const row = this.rows.get(name);
    if (row === undefined) return;
    this.rows.delete(name);
    this.written[row] = 0;
    this.devices[row] = [];
    this.free.push(row);
  }

  /** Where a row's numbers start. */
  start(row: number): number {
    return row * this.width * STRIDE;
  }

  /** How many devices a row holds. */
  size(row: number): number {
    return this.counts[row] ?? 0;
  }

  /** The devices of a row. */
  devicesOf(row: number): readonly Device[] {
    return this.devices[row] ?? [];
  }

  get numbers(): Float64Array {
    return this.data;
  }

  private typeId(type: string): number {
    let id = this.typeIds.get(type);
    if (id === undefined) {
      id = this.types.length;
      this.types.push(type);
      this.typeIds.set(type, id);
    }
    return id;
  }

  private fill(row: number, devices: readonly Device[], usage: readonly DeviceUsage[]): void {
    const { plain } = this;
    const start = row * this.width * STRIDE;
    for (let k = 0; k < devices.length; k++) {
      const device = devices[k] as Device;
      const used = usage[k] ?? NO_USAGE;
      const at = start + k * STRIDE;
      const d = this.data;
      d[at + USED_SLOTS] = used.slots;
      d[at + USED_MIB] = used.memoryMiB;
      d[at + USED_CORES] = used.cores;
      d[at + SPLIT_COUNT] = device.splitCount;
      d[at + CAPACITY_MIB] = device.memoryMiB;
      d[at + CAPACITY_CORES] = device.cores;
      d[at + FLAGS] =
        (device.healthy ? 0 : UNHEALTHY) |
        (device.cordoned === true ? CORDONED : 0) |
        (plain?.(device) === true ? PLAIN : 0);
      d[at + TYPE] = this.typeId(device.type);
      d[at + LOAD] = deviceLoad(device, used);
    }
    this.counts[row] = devices.length;
    this.devices[row] = devices;
  }

  private grow(rows: number): void {
    const data = new Float64Array(rows * this.width * STRIDE);
    data.set(this.data);
    const written = new Uint8Array(rows);
    written.set(this.written);
    const until = new Float64Array(rows);
    until.set(this.until);
    const counts = new Int32Array(rows);
    counts.set(this.counts);
    this.data = data;
    this.written = written;
    this.until = until;
    this.counts = counts;
  }

  /** Room for nodes with more devices: every row is written again when next read. */
  private widen(devices: number): void {
    this.width = Math.max(devices, this.width * 2);
    this.data = new Float64Array(this.counts.length * this.width * STRIDE);
    this.written.fill(0);
  }
}

/** What ranking one pod over the table needs, resolved once per pod. */
export interface RowPlan {
  /** The GPU container's name (refusals name it) and its request. */
  container: string;
  request: DeviceRequest;
  binpack: boolean;
  mutex: boolean;
  /** The node policy's score from the node's mean device load after placement. */
  fromLoad: (load: number) => number;
  reason: NonNullable<Vendor["rows"]>["reason"];
  /** Per type index: 1 passes the pod's type lists, 2 does not, 0 not asked yet. */
  typeVerdicts: Uint8Array;
  /** Refusal messages by the devices' reasons in order (refused). */
  refusals: Map<string, string>;
  preferences: PodPreferences;
}

/** The pod's one GPU container when it has exactly one, an app container. */
function oneRequest(request: PodRequest): { name: string; request: DeviceRequest } | undefined {
  let found: { name: string; request: DeviceRequest } | undefined;
  for (const slot of request.slots) {
    const wanted = slot.request;
    if (wanted === undefined || wanted.count === 0) continue;
    if (found !== undefined || slot.init) return undefined;
    found = { name: slot.name, request: wanted };
  }
  return found;
}

function constrained(preferences: PodPreferences): boolean {
  return (
    preferences.useGPUUUID !== undefined ||
    preferences.nouseGPUUUID !== undefined ||
    preferences.vgpuMode !== undefined ||
    preferences.numaBind === true
  );
}

/** The plan for a pod the table can rank, or undefined: the general path for every node. */
export function rowPlan(
  request: PodRequest,
  preferences: PodPreferences,
  policy: { gpuPolicy: GPUPolicy; scorer: NodeScorer; vendor: Vendor; quota: boolean },
): RowPlan | undefined {
  const { gpuPolicy, scorer, vendor } = policy;
  const one = oneRequest(request);
  const reason = vendor.rows?.reason;
  const { fromLoad } = scorer;
  if (one === undefined || reason === undefined || fromLoad === undefined) return undefined;
  if (constrained(preferences) || policy.quota || scorer.deviceCost !== undefined) return undefined;
  if (gpuPolicy.numa || gpuPolicy.topology === true) return undefined;
  return {
    container: one.name,
    request: one.request,
    binpack: gpuPolicy.order === "binpack",
    mutex: gpuPolicy.mutex,
    fromLoad,
    reason,
    typeVerdicts: new Uint8Array(0),
    refusals: new Map(),
    preferences,
  };
}

function typePasses(plan: RowPlan, table: DeviceTable, id: number): boolean {
  if (id >= plan.typeVerdicts.length) {
    const grown = new Uint8Array(table.types.length);
    grown.set(plan.typeVerdicts);
    plan.typeVerdicts = grown;
  }
  let verdict = plan.typeVerdicts[id] ?? 0;
  if (verdict === 0) {
    verdict = typeAllowed(table.types[id] ?? "", plan.preferences) ? 1 : 2;
    plan.typeVerdicts[id] = verdict;
  }
  return verdict === 1;
}

/** The row being ranked: its candidates' device positions and loads, and the devices chosen
 * (reused: ranking allocates nothing per node). */
let positions = new Int32Array(INITIAL_DEVICES);
let loads = new Float64Array(INITIAL_DEVICES);
let chosen = new Uint8Array(INITIAL_DEVICES);
/** Each device's reason in the row last gathered (undefined: it can take the container). */
const reasons: (FitReason | undefined)[] = [];

/** Why the device whose numbers start at `base` cannot take the pod's container, or undefined
 * (fit.ts deviceReason, in its order: health, cordon, type lists, share count, mutex, then the
 * vendor's capacity). */
function reasonAt(table: DeviceTable, base: number, plan: RowPlan): FitReason | undefined {
  const d = table.numbers;
  const { request } = plan;
  const flags = d[base + FLAGS] ?? 0;
  if ((flags & UNHEALTHY) !== 0) return FitReason.CardNotHealthy;
  if ((flags & CORDONED) !== 0) return FitReason.CardCordoned;
  if (!typePasses(plan, table, d[base + TYPE] ?? 0)) return FitReason.CardTypeMismatch;
  const slots = d[base + USED_SLOTS] ?? 0;
  if (slots >= (d[base + SPLIT_COUNT] ?? 0)) return FitReason.CardTimeSlicingExhausted;
  if (plan.mutex && slots > 0) return FitReason.ExclusiveDeviceAllocateConflict;
  return plan.reason(d, base, memoryOn(d[base + CAPACITY_MIB] ?? 0, request), request.cores);
}

/** Gathers the devices of a row that can take the pod's container into positions/loads; answers
 * how many, or -1 when a device needs the general path. */
function gather(table: DeviceTable, row: number, plan: RowPlan): number {
  const at = table.start(row);
  const count = table.size(row);
  if (count > positions.length) {
    positions = new Int32Array(count);
    loads = new Float64Array(count);
    chosen = new Uint8Array(count);
  }
  const d = table.numbers;
  let found = 0;
  for (let k = 0; k < count; k++) {
    const base = at + k * STRIDE;
    if (((d[base + FLAGS] ?? 0) & PLAIN) === 0) return -1;
    const reason = reasonAt(table, base, plan);
    reasons[k] = reason;
    if (reason !== undefined) continue;
    positions[found] = k;
    loads[found] = d[base + LOAD] ?? 0;
    found++;
  }
  return found;
}

/** The candidate fitPod picks next: the most (binpack) or least loaded not chosen yet, ties to
 * the lower position (fit.ts ordered and bestLoaded); marks it chosen. */
function chooseNext(found: number, binpack: boolean): void {
  let best = -1;
  let bestLoad = 0;
  for (let c = 0; c < found; c++) {
    if (chosen[positions[c] ?? 0] === 1) continue;
    const load = loads[c] ?? 0;
    if (best < 0 || (binpack ? load > bestLoad : load < bestLoad)) {
      best = c;
      bestLoad = load;
    }
  }
  chosen[positions[best] ?? 0] = 1;
}

/** Why the pod's container does not fit the row just gathered: fitPod's refusal, its reasons
 * counted. Rows with the same reasons device by device get the same words, written once per pod. */
function refused(table: DeviceTable, row: number, plan: RowPlan, found: number): string {
  const count = table.size(row);
  let key = "";
  for (let k = 0; k < count; k++) key += `${reasons[k] ?? ""},`;
  const known = plan.refusals.get(key);
  if (known !== undefined) return known;
  const counts: Partial<Record<FitReason, number>> = {};
  for (let k = 0; k < count; k++) {
    const reason = reasons[k];
    if (reason !== undefined) counts[reason] = (counts[reason] ?? 0) + 1;
  }
  const slot = { name: plan.container, request: plan.request };
  const { message } = refusal(slot, { candidates: found, devices: count }, counts);
  plan.refusals.set(key, message);
  return message;
}

/** The pod on one row: the node policy's score where it fits (same device choice as fitPod), why
 * not where it does not (fitPod's message), undefined where the row needs the general path. */
export function judgeRow(
  table: DeviceTable,
  row: number,
  plan: RowPlan,
): number | string | undefined {
  const { request, binpack } = plan;
  const found = gather(table, row, plan);
  if (found < 0 || table.size(row) === 0) return undefined;
  if (found < request.count) return refused(table, row, plan, found);
  for (let n = 0; n < request.count; n++) chooseNext(found, binpack);
  const at = table.start(row);
  const count = table.size(row);
  const devices = table.devicesOf(row);
  const d = table.numbers;
  let total = 0;
  for (let k = 0; k < count; k++) {
    const base = at + k * STRIDE;
    if (chosen[k] !== 1) {
      total += d[base + LOAD] ?? 0;
      continue;
    }
    chosen[k] = 0;
    const device = devices[k] as Device;
    const slots = (d[base + USED_SLOTS] ?? 0) + 1;
    const memoryMiB = (d[base + USED_MIB] ?? 0) + memoryOn(device.memoryMiB, request);
    total += loadOn(device, slots, memoryMiB, (d[base + USED_CORES] ?? 0) + request.cores);
  }
  return plan.fromLoad(total / count);
}
