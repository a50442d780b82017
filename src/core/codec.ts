// HAMi's annotation encodings, kept exactly so HAMi tools and dashboards keep working:
// node `hami.io/node-nvidia-register`: devices joined by ":", each
//   UUID,splitCount,memoryMiB,cores,type,numa,healthy
// pod allocations (`hami.io/vgpu-devices-to-allocate`, `...-allocated`): each container's devices
//   terminated by ":", each container terminated by ";", a device being UUID,NVIDIA,memMiB,cores.
// Decoders never throw anything but HamiError naming the annotation, the value and the bad part.

import type { ContainerDevice, Device, PodDevices } from "./device.js";
import { HamiError } from "./errors.js";
import { Reason } from "./reasons.js";

export const Annotation = {
  nodeRegister: "hami.io/node-nvidia-register",
  /** Ours: when the agent last wrote the register annotation (RFC 3339). */
  nodeRegisterTime: "hami.io/node-register-time",
  vgpuNode: "hami.io/vgpu-node",
  vgpuTime: "hami.io/vgpu-time",
  devicesToAllocate: "hami.io/vgpu-devices-to-allocate",
  devicesAllocated: "hami.io/vgpu-devices-allocated",
  bindPhase: "hami.io/bind-phase",
  bindTime: "hami.io/bind-time",
} as const;

/** The node agent's liveness Lease is named this plus the node name. */
export const AGENT_LEASE_PREFIX = "hami-agent-";

export const BindPhase = {
  allocating: "allocating",
  success: "success",
  failed: "failed",
} as const;
export type BindPhase = (typeof BindPhase)[keyof typeof BindPhase];

const SEPARATORS = /[,:;]/;

function invalid(annotation: string, raw: string, message: string): HamiError {
  return new HamiError(
    Reason.InvalidAnnotation,
    `metadata.annotations[${annotation}]`,
    raw,
    message,
  );
}

function integer(text: string | undefined, min: number): number | undefined {
  if (text === undefined || !/^-?\d+$/.test(text.trim())) return undefined;
  const value = Number(text.trim());
  return value >= min ? value : undefined;
}

function checkText(annotation: string, what: string, text: string): void {
  if (text === "" || SEPARATORS.test(text))
    throw invalid(annotation, text, `${what} must be non-empty and free of , : ;`);
}

export function encodeNodeDevices(devices: readonly Device[]): string {
  return devices
    .map((d) => {
      checkText(Annotation.nodeRegister, "device uuid", d.uuid);
      checkText(Annotation.nodeRegister, "device type", d.type);
      return [d.uuid, d.splitCount, d.memoryMiB, d.cores, d.type, d.numa, d.healthy].join(",");
    })
    .join(":");
}

function decodeNodeDevice(raw: string, entry: string, index: number): Device {
  const fields = entry.split(",");
  const bad = (what: string): HamiError =>
    invalid(Annotation.nodeRegister, raw, `device ${index} (${JSON.stringify(entry)}): ${what}`);
  if (fields.length !== 7) throw bad(`has ${fields.length} fields, expected 7`);
  const [uuid = "", split, memory, cores, type = "", numa, healthy] = fields;
  const splitCount = integer(split, 1);
  const memoryMiB = integer(memory, 1);
  const coreCount = integer(cores, 1);
  const numaNode = integer(numa, -1);
  if (uuid.trim() === "") throw bad("empty uuid");
  if (splitCount === undefined)
    throw bad(`splitCount ${JSON.stringify(split)} is not an integer >= 1`);
  if (memoryMiB === undefined) throw bad(`memory ${JSON.stringify(memory)} is not an integer >= 1`);
  if (coreCount === undefined) throw bad(`cores ${JSON.stringify(cores)} is not an integer >= 1`);
  if (numaNode === undefined) throw bad(`numa ${JSON.stringify(numa)} is not an integer`);
  if (healthy !== "true" && healthy !== "false")
    throw bad(`health ${JSON.stringify(healthy)} is not true or false`);
  return {
    uuid: uuid.trim(),
    index,
    type: type.trim(),
    memoryMiB,
    cores: coreCount,
    splitCount,
    numa: numaNode,
    healthy: healthy === "true",
  };
}

export function decodeNodeDevices(raw: string): Device[] {
  const entries = raw.split(":").filter((entry) => entry.trim() !== "");
  const devices = entries.map((entry, index) => decodeNodeDevice(raw, entry, index));
  const seen = new Set<string>();
  for (const device of devices) {
    if (seen.has(device.uuid))
      throw invalid(Annotation.nodeRegister, raw, `device ${device.uuid} is listed twice`);
    seen.add(device.uuid);
  }
  return devices;
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
    throw invalid(
      annotation,
      raw,
      `device ${JSON.stringify(entry)} is not UUID,TYPE,memoryMiB,cores with integers >= 0`,
    );
  return { uuid: uuid.trim(), type: type.trim(), memoryMiB, cores: coreCount };
}

/** Decodes a pod allocation annotation; `annotation` names it in errors. */
export function decodePodDevices(raw: string, annotation: string): PodDevices {
  const containers = raw.split(";");
  // Every container is terminated by ";", so the piece after the last one is empty.
  if (containers.at(-1)?.trim() === "") containers.pop();
  return containers.map((container) =>
    container
      .split(":")
      .filter((entry) => entry.trim() !== "")
      .map((entry) => decodeContainerDevice(annotation, raw, entry)),
  );
}
