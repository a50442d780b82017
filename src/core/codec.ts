// HAMi's annotation encodings, kept byte for byte so HAMi tools, dashboards and a cluster switching
// from HAMi keep working. Facts read in Project-HAMi/HAMi (HEAD after v2.10.0):
// - node `hami.io/node-nvidia-register` (pkg/device/devices.go, DeviceInfo + MarshalNodeDevices):
//   since v2.8 a JSON list of {"id","index","count","devmem","devcore","type","numa","mode",
//   "migProfiles","health"} in that key order, every key `omitempty` (Go's json.Marshal: 0, "", false
//   and empty lists are left out); a MIG profile is {"name","memoryMB","core","sliceCount",
//   "placements":[{"start","size"}]} with no omitempty (a nil placements list is null); devmem
//   already x deviceMemoryScaling and devcore = 100 x deviceCoreScaling. Up to v2.7 each device was
//   `id,count,devmem,devcore,type,numa,health[,index,mode]` terminated by ":" (DecodeNodeDevices
//   accepts 7 or 9 fields). We write the JSON and read all three.
// - pod allocations (`hami.io/vgpu-devices-to-allocate`, `...-allocated`, EncodePodSingleDevice):
//   each container's devices terminated by ":", each container terminated by ";", a device being
//   UUID,NVIDIA,memMiB,cores; containers in the order init containers, then app containers.
// Decoders never throw anything but HamiError naming the annotation, the value and the bad part.

import { z } from "zod";
import type { ContainerDevice, Device, MigProfile, PodDevices } from "./device.js";
import { HamiError } from "./errors.js";
import { Reason } from "./reasons.js";

export const Annotation = {
  nodeRegister: "hami.io/node-nvidia-register",
  /** Ours: when the agent last wrote the register annotation (RFC 3339). */
  nodeRegisterTime: "hami.io/node-register-time",
  /** Ours: the node agent's effective device settings and where each came from (cluster config or
   * its nodeconfig entry), for `hami status` and `hami explain`. */
  nodeSettings: "hami.io/node-settings",
  /** HAMi's live per-GPU cordon: comma-separated UUIDs that get no new pods (Project-HAMi/HAMi
   * pkg/device/nvidia/device.go DeviceCordonAnnotation). */
  deviceCordon: "hami.io/device-cordon",
  /** HAMi's GPU pair scores per node (topology.ts). */
  nodeScores: "hami.io/node-nvidia-score",
  vgpuNode: "hami.io/vgpu-node",
  vgpuTime: "hami.io/vgpu-time",
  devicesToAllocate: "hami.io/vgpu-devices-to-allocate",
  devicesAllocated: "hami.io/vgpu-devices-allocated",
  bindPhase: "hami.io/bind-phase",
  bindTime: "hami.io/bind-time",
} as const;

/** The node agent's liveness Lease is named this plus the node name. */
export const AGENT_LEASE_PREFIX = "hami-agent-";

/** HAMi's operating mode word for a GPU shared through HAMi-core. */
export const HAMI_CORE_MODE = "hami-core";

export const BindPhase = {
  allocating: "allocating",
  success: "success",
  failed: "failed",
} as const;
export type BindPhase = (typeof BindPhase)[keyof typeof BindPhase];

const SEPARATORS = /[,:;]/;
/** A register annotation longer than this is refused (a node has a few dozen GPUs at most). */
const MAX_REGISTER_BYTES = 256 * 1024;

/** An annotation value that cannot be read: names the annotation, shows the value (cut), says why. */
export function invalidAnnotation(annotation: string, raw: string, message: string): HamiError {
  const shown = raw.length > 200 ? `${raw.slice(0, 200)}... (${raw.length} bytes)` : raw;
  return new HamiError(
    Reason.InvalidAnnotation,
    `metadata.annotations[${annotation}]`,
    shown,
    message,
  );
}

function integer(text: string | undefined, min: number): number | undefined {
  if (text === undefined || !/^[-+]?\d+$/.test(text.trim())) return undefined;
  const value = Number(text.trim());
  return value >= min && value <= 2 ** 31 - 1 ? value : undefined;
}

function checkText(annotation: string, what: string, text: string): void {
  if (text === "" || SEPARATORS.test(text))
    throw invalidAnnotation(annotation, text, `${what} must be non-empty and free of , : ;`);
}

/** A JSON string as Go's encoding/json writes it (HTML-safe escapes), so our bytes equal HAMi's. */
function goString(text: string): string {
  return JSON.stringify(text).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

function encodeMigProfile(p: MigProfile): string {
  const placements =
    p.placements.length === 0
      ? "null"
      : `[${p.placements.map((at) => `{"start":${at.start},"size":${at.size}}`).join(",")}]`;
  return `{"name":${goString(p.name)},"memoryMB":${p.memoryMiB},"core":${p.cores},"sliceCount":${p.sliceCount},"placements":${placements}}`;
}

/** HAMi's MarshalNodeDevices bytes: keys in DeviceInfo order, zero values omitted. */
export function encodeNodeDevices(devices: readonly Device[]): string {
  const entries = devices.map((d) => {
    if (d.uuid === "")
      throw invalidAnnotation(Annotation.nodeRegister, d.uuid, "device uuid is empty");
    const fields: string[] = [`"id":${goString(d.uuid)}`];
    if (d.index !== 0) fields.push(`"index":${d.index}`);
    if (d.splitCount !== 0) fields.push(`"count":${d.splitCount}`);
    if (d.memoryMiB !== 0) fields.push(`"devmem":${d.memoryMiB}`);
    if (d.cores !== 0) fields.push(`"devcore":${d.cores}`);
    if (d.type !== "") fields.push(`"type":${goString(d.type)}`);
    if (d.numa !== 0) fields.push(`"numa":${d.numa}`);
    if (d.mode !== "") fields.push(`"mode":${goString(d.mode)}`);
    if (d.migProfiles !== undefined && d.migProfiles.length > 0)
      fields.push(`"migProfiles":[${d.migProfiles.map(encodeMigProfile).join(",")}]`);
    if (d.healthy) fields.push(`"health":true`);
    return `{${fields.join(",")}}`;
  });
  return `[${entries.join(",")}]`;
}

const int32 = z
  .number()
  .int()
  .min(-(2 ** 31))
  .max(2 ** 31 - 1);
const jsonDevice = z.looseObject({
  id: z.string().min(1).max(256),
  index: int32.min(0).optional(),
  count: int32.min(0).optional(),
  devmem: int32.min(0).optional(),
  devcore: int32.min(0).optional(),
  type: z.string().max(256).optional(),
  numa: int32.optional(),
  mode: z.string().max(64).optional(),
  migProfiles: z
    .array(
      z.looseObject({
        name: z.string().min(1).max(64),
        memoryMB: int32.min(0).optional(),
        core: int32.min(0).optional(),
        sliceCount: int32.min(0).optional(),
        placements: z
          .array(
            z.looseObject({
              start: int32.min(0).optional(),
              size: int32.min(1),
            }),
          )
          .max(64)
          .nullish(),
      }),
    )
    .max(64)
    .nullish(),
  health: z.boolean().optional(),
});
const jsonDevices = z.array(jsonDevice).max(1024).nullable();

function decodeJsonDevices(raw: string): Device[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw invalidAnnotation(Annotation.nodeRegister, raw, `not JSON: ${(error as Error).message}`);
  }
  const result = jsonDevices.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.join(".") ?? "";
    throw invalidAnnotation(
      Annotation.nodeRegister,
      raw,
      `${where}: ${issue?.message ?? "invalid"}`,
    );
  }
  // Go's Unmarshal gives absent fields their zero value; so do we.
  return (result.data ?? []).map((d) => ({
    uuid: d.id,
    index: d.index ?? 0,
    type: d.type ?? "",
    memoryMiB: d.devmem ?? 0,
    cores: d.devcore ?? 0,
    splitCount: d.count ?? 0,
    numa: d.numa ?? 0,
    mode: d.mode ?? "",
    healthy: d.health ?? false,
    ...(d.migProfiles === undefined || d.migProfiles === null || d.migProfiles.length === 0
      ? {}
      : {
          migProfiles: d.migProfiles.map((p) => ({
            name: p.name,
            memoryMiB: p.memoryMB ?? 0,
            cores: p.core ?? 0,
            sliceCount: p.sliceCount ?? 0,
            placements: (p.placements ?? []).map((at) => ({ start: at.start ?? 0, size: at.size })),
          })),
        }),
  }));
}

/** Go's strconv.ParseBool, which HAMi uses for the legacy health field. */
export function parseGoBool(text: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(text)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(text)) return false;
  return undefined;
}

function decodeLegacyDevice(raw: string, entry: string, position: number): Device {
  const fields = entry.split(",");
  const bad = (what: string): HamiError =>
    invalidAnnotation(
      Annotation.nodeRegister,
      raw,
      `device ${position} (${JSON.stringify(entry)}): ${what}`,
    );
  if (fields.length !== 7 && fields.length !== 9)
    throw bad(`has ${fields.length} fields, expected 7 or 9`);
  const [uuid = "", split, memory, cores, type = "", numa, health = "", index, mode] = fields;
  const number = (what: string, text: string | undefined, min: number): number => {
    const value = integer(text, min);
    if (value === undefined) throw bad(`${what} ${JSON.stringify(text)} is not an integer`);
    return value;
  };
  const healthy = parseGoBool(health);
  if (uuid === "") throw bad("empty uuid");
  if (healthy === undefined) throw bad(`health ${JSON.stringify(health)} is not a Go bool`);
  return {
    uuid,
    index: fields.length === 9 ? number("index", index, 0) : 0,
    type,
    memoryMiB: number("devmem", memory, 0),
    cores: number("devcore", cores, 0),
    splitCount: number("count", split, 0),
    numa: number("numa", numa, -(2 ** 31)),
    mode: fields.length === 9 ? (mode ?? "") : HAMI_CORE_MODE,
    healthy,
  };
}

/** Reads every form HAMi has written: JSON (v2.8+), and the 9- and 7-field forms of v2.7 and before. */
export function decodeNodeDevices(raw: string): Device[] {
  if (raw.length > MAX_REGISTER_BYTES)
    throw invalidAnnotation(
      Annotation.nodeRegister,
      raw,
      `longer than ${MAX_REGISTER_BYTES} bytes`,
    );
  const trimmed = raw.trim();
  const devices =
    trimmed.startsWith("[") || trimmed === "null"
      ? decodeJsonDevices(trimmed)
      : trimmed
          .split(":")
          .filter((entry) => entry !== "")
          .map((entry, position) => decodeLegacyDevice(raw, entry, position));
  const seen = new Set<string>();
  for (const device of devices) {
    if (seen.has(device.uuid))
      throw invalidAnnotation(
        Annotation.nodeRegister,
        raw,
        `device ${device.uuid} is listed twice`,
      );
    seen.add(device.uuid);
  }
  return devices;
}

/** Where a pod's allocation is recorded: `-allocated`, where HAMi's scheduler reads usage (the agent
 * erases `-to-allocate` as it serves), else `-to-allocate` (a writer that set only that). */
export function allocationRecord(annotations: Readonly<Record<string, string>>): {
  key: string;
  raw?: string;
} {
  const key =
    Annotation.devicesAllocated in annotations
      ? Annotation.devicesAllocated
      : Annotation.devicesToAllocate;
  return { key, raw: annotations[key] };
}

export function encodePodDevices(pod: PodDevices): string {
  return pod
    .map(
      (container) =>
        container
          .map((d) => {
            checkText(Annotation.devicesToAllocate, "device uuid", d.uuid);
            return `${d.uuid},${d.type},${d.memoryMiB},${d.cores}:`;
          })
          .join("") + ";",
    )
    .join("");
}

function decodeContainerDevice(annotation: string, raw: string, entry: string): ContainerDevice {
  const fields = entry.split(",");
  const [uuid = "", type = "", memory, cores] = fields;
  const memoryMiB = integer(memory, 0);
  const coreCount = integer(cores, 0);
  if (
    fields.length !== 4 ||
    uuid.trim() === "" ||
    memoryMiB === undefined ||
    coreCount === undefined
  )
    throw invalidAnnotation(
      annotation,
      raw,
      `device ${JSON.stringify(entry)} is not UUID,TYPE,memoryMiB,cores with integers >= 0`,
    );
  return { uuid: uuid.trim(), type: type.trim(), memoryMiB, cores: coreCount };
}

/** Decodes a pod allocation annotation; `annotation` names it in errors. HAMi's own re-encoding
 * after erasing can leave extra empty containers at the end (";;"); they are dropped, since a
 * position past the pod's containers holds nothing. */
export function decodePodDevices(raw: string, annotation: string): PodDevices {
  const containers = raw.split(";");
  while (containers.length > 0 && containers.at(-1)?.trim() === "") containers.pop();
  return containers.map((container) =>
    container
      .split(":")
      .filter((entry) => entry.trim() !== "")
      .map((entry) => decodeContainerDevice(annotation, raw, entry)),
  );
}

/** The UUIDs a node's hami.io/device-cordon lists, as HAMi reads it: comma-separated, each trimmed,
 * empty entries skipped; absent or blank means none. */
export function parseDeviceCordon(raw: string | undefined): Set<string> {
  return new Set(
    (raw ?? "")
      .split(",")
      .map((uuid) => uuid.trim())
      .filter((uuid) => uuid !== ""),
  );
}

/** The annotation value with `uuid` added (cordon) or removed (uncordon), order kept. */
export function withDeviceCordon(raw: string | undefined, uuid: string, cordoned: boolean): string {
  const set = parseDeviceCordon(raw);
  if (cordoned) set.add(uuid);
  else set.delete(uuid);
  return [...set].join(",");
}
