// HAMi-core's shared region: the file each container's libvgpu.so maps (its path is the
// container's CUDA_DEVICE_MEMORY_SHARED_CACHE) and writes per-process device memory and SM use
// into. Read here, for the node monitor, from bytes: pure, bounds-checked, never throws on what
// is in the file. A truncated, foreign or garbage file is a reason, not a crash.
//
// Layout facts, from HAMi-core's public header src/multiprocess/multiprocess_memory_limit.h
// (Project-HAMi/HAMi-core at 8f3a89c, format 1.2; 1.1 has the same offsets: 1.2 put seqlock and
// sem_postinit where 1.1 had unused words) and HAMi's reader pkg/monitor/nvidia/v1/spec.go (which
// processes count: the first proc_num slots, those with status != 0). 64-bit Linux ABI, little
// endian: size_t 8 bytes, sem_t 32 bytes, natural alignment.
//   shared_region_t: int32 initialized_flag (the magic) @0, uint32 major @4, uint32 minor @8,
//     int32 sm_init_flag @12, size_t owner_pid @16, sem_t sem @24, uint64 device_num @56,
//     char uuids[16][96] @64, uint64 limit[16] @1600, uint64 sm_limit[16] @1728,
//     shrreg_proc_slot_t procs[1024] @1856, int proc_num @2008896, int utilization_switch,
//     int recent_kernel, int priority, uint64 last_kernel_time @2008912, sem_t @2008920;
//     2008952 bytes.
//   shrreg_proc_slot_t (1960 bytes): int32 pid @0, int32 hostpid @4, device_memory_t used[16] @8
//     (64 bytes each: context, module, data, offset, total, 3 unused), uint64 monitorused[16]
//     @1032, device_util_t device_util[16] @1160 (48 bytes each: dec, enc, sm, 3 unused),
//     int32 status @1928, uint64 seqlock @1936, 2 unused.

export const SHARED_REGION_MAGIC = 19_920_718;
export const SHARED_REGION_BYTES = 2_008_952;
const MAX_DEVICES = 16;
const MAX_PROCS = 1024;
const UUID_BYTES = 96;
const OFF = {
  major: 4,
  minor: 8,
  deviceNum: 56,
  uuids: 64,
  limit: 1600,
  smLimit: 1728,
  procs: 1856,
  procNum: 2_008_896,
  lastKernelTime: 2_008_912,
} as const;
const SLOT = { bytes: 1960, pid: 0, hostPid: 4, used: 8, usedBytes: 64, util: 1160 };
/** device_memory_t's counters, by offset within it. */
const MEM = { context: 0, module: 8, buffer: 16, total: 32 } as const;
const UTIL = { bytes: 48, sm: 16 };
const STATUS = 1928;

export interface RegionDevice {
  uuid: string;
  /** The container's limit on this device (bytes; 0: none). */
  limitBytes: number;
  /** Its SM limit (percent; 0: none). */
  smLimit: number;
  /** Device memory its live processes use: the sum of their `total`... */
  usedBytes: number;
  /** ...of which CUDA contexts, loaded modules and allocated buffers (HAMi's context_size,
   * module_size, data_size). */
  contextBytes: number;
  moduleBytes: number;
  bufferBytes: number;
  /** The SM utilisation its live processes report, summed (percent). */
  smUtil: number;
}

export interface SharedRegion {
  version: string;
  devices: RegionDevice[];
  /** Host PIDs of the live processes. */
  processes: number[];
  /** When a kernel last ran, as HAMi-core records it (seconds since the epoch; 0: never). */
  lastKernelTime: number;
}

export type RegionRead = { ok: true; region: SharedRegion } | { ok: false; reason: string };

/** A uint64 that must fit a JS number exactly; undefined for garbage beyond 2^53. */
function u64(view: DataView, offset: number): number | undefined {
  const value = view.getBigUint64(offset, true);
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : undefined;
}

function uuidAt(bytes: Uint8Array, index: number): string | undefined {
  const start = OFF.uuids + index * UUID_BYTES;
  const raw = bytes.subarray(start, start + UUID_BYTES);
  const end = raw.indexOf(0);
  const text = raw.subarray(0, end === -1 ? UUID_BYTES : end);
  return text.every((c) => c >= 0x20 && c < 0x7f) ? String.fromCharCode(...text) : undefined;
}

type Sums = Record<"used" | "context" | "module" | "buffer" | "sm", number[]>;

/** Adds one slot's figures for device d to the sums; false when one is garbage (beyond 2^53). */
function addSlot(view: DataView, slot: number, d: number, sums: Sums): boolean {
  const memory = slot + SLOT.used + d * SLOT.usedBytes;
  const figures: Record<keyof Sums, number | undefined> = {
    used: u64(view, memory + MEM.total),
    context: u64(view, memory + MEM.context),
    module: u64(view, memory + MEM.module),
    buffer: u64(view, memory + MEM.buffer),
    sm: u64(view, slot + SLOT.util + d * UTIL.bytes + UTIL.sm),
  };
  for (const key of Object.keys(figures) as (keyof Sums)[]) {
    const value = figures[key];
    if (value === undefined) return false;
    sums[key][d] = (sums[key][d] ?? 0) + value;
  }
  return true;
}

/** Host PIDs and per-device sums over the live slots (the first proc_num, status != 0). */
function liveProcesses(
  view: DataView,
  devices: number,
): { pids: number[]; sums: Sums } | undefined {
  const count = Math.min(Math.max(view.getInt32(OFF.procNum, true), 0), MAX_PROCS);
  const zeros = (): number[] => new Array<number>(devices).fill(0);
  const sums: Sums = {
    used: zeros(),
    context: zeros(),
    module: zeros(),
    buffer: zeros(),
    sm: zeros(),
  };
  const pids: number[] = [];
  for (let p = 0; p < count; p++) {
    const slot = OFF.procs + p * SLOT.bytes;
    if (view.getInt32(slot + STATUS, true) === 0) continue;
    pids.push(view.getInt32(slot + SLOT.hostPid, true));
    for (let d = 0; d < devices; d++) if (!addSlot(view, slot, d, sums)) return undefined;
  }
  return { pids, sums };
}

/** Each device's uuid and limits with its live processes' sums, or why one cannot be read. */
function devicesOf(bytes: Uint8Array, view: DataView, sums: Sums): RegionDevice[] | string {
  const devices: RegionDevice[] = [];
  for (let d = 0; d < sums.used.length; d++) {
    const uuid = uuidAt(bytes, d);
    const limitBytes = u64(view, OFF.limit + d * 8);
    const smLimit = u64(view, OFF.smLimit + d * 8);
    if (uuid === undefined || limitBytes === undefined || smLimit === undefined)
      return `device ${d}: unreadable uuid or limit`;
    devices.push({
      uuid,
      limitBytes,
      smLimit,
      usedBytes: sums.used[d] ?? 0,
      contextBytes: sums.context[d] ?? 0,
      moduleBytes: sums.module[d] ?? 0,
      bufferBytes: sums.buffer[d] ?? 0,
      smUtil: sums.sm[d] ?? 0,
    });
  }
  return devices;
}

export function readSharedRegion(bytes: Uint8Array): RegionRead {
  if (bytes.length < SHARED_REGION_BYTES)
    return {
      ok: false,
      reason: `truncated: ${bytes.length} bytes, a format 1 region has ${SHARED_REGION_BYTES}`,
    };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getInt32(0, true);
  if (magic !== SHARED_REGION_MAGIC)
    return { ok: false, reason: `not a HAMi-core shared region (flag ${magic})` };
  const version = `${view.getUint32(OFF.major, true)}.${view.getUint32(OFF.minor, true)}`;
  if (view.getUint32(OFF.major, true) !== 1)
    return { ok: false, reason: `format ${version} is not read (format 1.x is)` };
  const count = u64(view, OFF.deviceNum) ?? Number.POSITIVE_INFINITY;
  if (count > MAX_DEVICES) return { ok: false, reason: `device count out of range in ${version}` };
  const live = liveProcesses(view, count);
  const lastKernelTime = u64(view, OFF.lastKernelTime);
  if (live === undefined || lastKernelTime === undefined)
    return { ok: false, reason: "a memory or utilisation figure beyond 2^53: garbage" };
  const devices = devicesOf(bytes, view, live.sums);
  if (typeof devices === "string") return { ok: false, reason: devices };
  return { ok: true, region: { version, devices, processes: live.pids, lastKernelTime } };
}

/** One process as encodeSharedRegion writes it: per device, its memory and SM figures. */
export interface RegionProcess {
  hostPid: number;
  devices: {
    usedBytes: number;
    contextBytes?: number;
    moduleBytes?: number;
    bufferBytes?: number;
    smUtil: number;
  }[];
}

/** A format 1.2 region with these devices and live processes, as HAMi-core would leave it: for
 * the simulated HAMi-core of the local mode and tests (no GPU writes one there). */
export function encodeSharedRegion(region: {
  devices: readonly { uuid: string; limitBytes: number; smLimit: number }[];
  processes: readonly RegionProcess[];
  lastKernelTime: number;
}): Uint8Array {
  const bytes = new Uint8Array(SHARED_REGION_BYTES);
  const view = new DataView(bytes.buffer);
  const u64At = (offset: number, value: number): void => {
    view.setBigUint64(offset, BigInt(Math.max(0, Math.trunc(value))), true);
  };
  view.setInt32(0, SHARED_REGION_MAGIC, true);
  view.setUint32(OFF.major, 1, true);
  view.setUint32(OFF.minor, 2, true);
  const devices = region.devices.slice(0, MAX_DEVICES);
  u64At(OFF.deviceNum, devices.length);
  devices.forEach((d, i) => {
    const uuid = new TextEncoder().encode(d.uuid).subarray(0, UUID_BYTES - 1);
    bytes.set(uuid, OFF.uuids + i * UUID_BYTES);
    u64At(OFF.limit + i * 8, d.limitBytes);
    u64At(OFF.smLimit + i * 8, d.smLimit);
  });
  const processes = region.processes.slice(0, MAX_PROCS);
  processes.forEach((p, n) => {
    const slot = OFF.procs + n * SLOT.bytes;
    view.setInt32(slot + SLOT.pid, p.hostPid, true);
    view.setInt32(slot + SLOT.hostPid, p.hostPid, true);
    view.setInt32(slot + STATUS, 1, true);
    p.devices.slice(0, devices.length).forEach((d, i) => {
      const memory = slot + SLOT.used + i * SLOT.usedBytes;
      u64At(memory + MEM.total, d.usedBytes);
      u64At(memory + MEM.context, d.contextBytes ?? 0);
      u64At(memory + MEM.module, d.moduleBytes ?? 0);
      u64At(memory + MEM.buffer, d.bufferBytes ?? 0);
      u64At(slot + SLOT.util + i * UTIL.bytes + UTIL.sm, d.smUtil);
    });
  });
  view.setInt32(OFF.procNum, processes.length, true);
  u64At(OFF.lastKernelTime, region.lastKernelTime);
  return bytes;
}
