// GPU discovery: from nvidia-smi (NVML through its CLI) or from a mock file describing GPUs (kind
// clusters without GPUs, tests, the local demo). Parsing is defensive: units, "[N/A]", error
// markers and odd names never crash it; a GPU that reports errors is unhealthy.

import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { parse } from "yaml";
import { z } from "zod";
import type { HostGpuUsage, PairScores } from "../core/index.js";
import { parseNvidiaSmiTopo } from "./topology.js";
import {
  MIG_PROFILE,
  migInstancesOf,
  parseGpuInstanceProfiles,
  parseGpuInstances,
  parseMigDevices,
  profileSlices,
  type MigInstance,
  type MigTables,
} from "./mig-discovery.js";

export interface DiscoveredGpu {
  index: number;
  uuid: string;
  /** Model as registered, e.g. NVIDIA-A100-SXM4-80GB (no , : ;). */
  type: string;
  memoryMiB: number;
  numa: number;
  healthy: boolean;
  /** Why the GPU is unhealthy. */
  problem?: string;
  /** Present when MIG mode is on: the MIG instances that exist on it (possibly none). */
  mig?: MigInstance[];
}

export interface DeviceSource {
  describe: string;
  read(): Promise<DiscoveredGpu[]>;
  /** What each GPU is doing now (the node monitor's host figures). */
  usage(): Promise<HostGpuUsage[]>;
  /** How these GPUs are connected, as HAMi's pair scores; undefined when unknown. */
  topology(gpus: readonly DiscoveredGpu[]): Promise<PairScores | undefined>;
}

export const NVIDIA_SMI_FIELDS = [
  "index",
  "uuid",
  "name",
  "memory.total",
  "pci.bus_id",
  "mig.mode.current",
];

/** The model as HAMi registers it: NVML's name, spaces kept, "NVIDIA-" prefixed only when it does not
 * already start with "NVIDIA" (case-sensitive, as HAMi's strings.HasPrefix in register.go).
 * Control characters are dropped; the JSON register annotation carries any other character. */
export function deviceType(name: string): string {
  const clean = (unreadable(name.trim()) ? "" : name).replace(/\p{Cc}/gu, "").trim();
  if (clean === "") return "NVIDIA-unknown";
  return clean.startsWith("NVIDIA") ? clean : `NVIDIA-${clean}`;
}

/** nvidia-smi marks values it cannot read with brackets: [N/A], [Unknown Error], [GPU requires reset]. */
function unreadable(value: string): boolean {
  return value === "" || value.startsWith("[");
}

function memoryOf(raw: string): number | undefined {
  if (unreadable(raw)) return undefined;
  const match = /^(\d+(?:\.\d+)?)\s*(MiB|GiB)?$/i.exec(raw.trim());
  if (match === null) return undefined;
  const value = Number(match[1]);
  return Math.floor(match[2]?.toLowerCase() === "gib" ? value * 1024 : value);
}

/** PCI bus id as nvidia-smi prints it (00000000:3B:00.0) to the sysfs name (0000:3b:00.0). */
export function sysfsBusId(busId: string): string {
  const match = /^([0-9a-f]+):([0-9a-f]{2}:[0-9a-f]{2}\.[0-9a-f])$/i.exec(busId.trim());
  if (match === null) return busId.trim().toLowerCase();
  return `${(match[1] ?? "").slice(-4).padStart(4, "0")}:${match[2] ?? ""}`.toLowerCase();
}

export interface ParsedSmi {
  gpus: (Omit<DiscoveredGpu, "mig"> & { busId: string; migEnabled: boolean })[];
  /** Lines that could not be read at all. */
  skipped: string[];
}

type SmiGpu = ParsedSmi["gpus"][number];

function parseSmiLine(line: string): SmiGpu | undefined {
  const fields = line.split(",").map((f) => f.trim());
  if (fields.length < 6) return undefined;
  const [indexText = "", uuid = ""] = fields;
  const [memoryText = "", busId = "", migText = ""] = fields.slice(-3);
  // A name containing commas: everything between the uuid and the last three fields.
  const name = fields.slice(2, -3).join(" ");
  const index = Number(indexText);
  if (!Number.isInteger(index) || !uuid.startsWith("GPU-")) return undefined;
  const memory = memoryOf(memoryText);
  const gpu: SmiGpu = {
    index,
    uuid,
    type: deviceType(name),
    memoryMiB: memory ?? 1,
    numa: 0,
    healthy: memory !== undefined,
    busId: unreadable(busId) ? "" : busId,
    migEnabled: migText.toLowerCase() === "enabled",
  };
  if (memory === undefined) gpu.problem = `memory.total reads ${JSON.stringify(memoryText)}`;
  return gpu;
}

/** Parses `nvidia-smi --query-gpu=<NVIDIA_SMI_FIELDS> --format=csv,noheader,nounits`. */
export function parseNvidiaSmi(csv: string): ParsedSmi {
  const gpus: SmiGpu[] = [];
  const skipped: string[] = [];
  for (const line of csv.split(/\r?\n/)) {
    if (line.trim() === "") continue;
    const gpu = parseSmiLine(line);
    if (gpu === undefined) skipped.push(line);
    else gpus.push(gpu);
  }
  return { gpus, skipped };
}

export const NVIDIA_SMI_USAGE_FIELDS = [
  "uuid",
  "utilization.gpu",
  "memory.used",
  "memory.total",
  "temperature.gpu",
  "power.draw",
];

/** A figure nvidia-smi printed (nounits), or undefined for [N/A], errors and anything not a number. */
function figure(raw: string | undefined): number | undefined {
  const text = (raw ?? "").trim();
  if (unreadable(text) || !/^\d+(\.\d+)?$/.test(text)) return undefined;
  return Number(text);
}

/** Parses `nvidia-smi --query-gpu=<NVIDIA_SMI_USAGE_FIELDS> --format=csv,noheader,nounits`; a line
 * without a GPU uuid is skipped, an unreadable figure is left out. */
export function parseNvidiaSmiUsage(csv: string): HostGpuUsage[] {
  const usage: HostGpuUsage[] = [];
  for (const line of csv.split(/\r?\n/)) {
    const [uuid = "", util, used, total, temperature, power] = line.split(",").map((f) => f.trim());
    if (!uuid.startsWith("GPU-")) continue;
    const gpu: HostGpuUsage = { uuid };
    const utilization = figure(util);
    const usedMiB = figure(used);
    const totalMiB = figure(total);
    const temperatureC = figure(temperature);
    const powerW = figure(power);
    if (utilization !== undefined) gpu.utilization = utilization;
    if (usedMiB !== undefined) gpu.memoryUsedBytes = usedMiB * MiB;
    if (totalMiB !== undefined) gpu.memoryTotalBytes = totalMiB * MiB;
    if (temperatureC !== undefined) gpu.temperatureC = temperatureC;
    if (powerW !== undefined) gpu.powerW = powerW;
    usage.push(gpu);
  }
  return usage;
}

const MiB = 1024 * 1024;

/** NVML through nvidia-smi; NUMA node from sysfs (-1 there means 0). */
export function nvidiaSmiSource(
  run: (args: string[]) => Promise<string> = runNvidiaSmi,
  readNuma: (busId: string) => Promise<number> = numaFromSysfs,
): DeviceSource {
  return {
    describe: "nvml (nvidia-smi)",
    read: async () => {
      const { gpus } = parseNvidiaSmi(
        await run([`--query-gpu=${NVIDIA_SMI_FIELDS.join(",")}`, "--format=csv,noheader,nounits"]),
      );
      const tables = gpus.some((g) => g.migEnabled) ? await migTables(run) : undefined;
      return Promise.all(
        gpus.map(async ({ busId, migEnabled, ...gpu }) => {
          const numa = busId === "" ? 0 : await readNuma(busId).catch(() => 0);
          return migEnabled ? withMig({ ...gpu, numa }, tables) : { ...gpu, numa };
        }),
      );
    },
    usage: async () =>
      parseNvidiaSmiUsage(
        await run([
          `--query-gpu=${NVIDIA_SMI_USAGE_FIELDS.join(",")}`,
          "--format=csv,noheader,nounits",
        ]),
      ),
    topology: async (gpus) => parseNvidiaSmiTopo(await run(["topo", "-m"]), gpus),
  };
}

/** nvidia-smi's three MIG listings, or why they could not be read. */
async function migTables(run: (args: string[]) => Promise<string>): Promise<MigTables | string> {
  try {
    const [list, instances, profiles] = await Promise.all([
      run(["-L"]),
      run(["mig", "-lgi"]),
      run(["mig", "-lgip"]),
    ]);
    return {
      devices: parseMigDevices(list),
      instances: parseGpuInstances(instances),
      profiles: parseGpuInstanceProfiles(profiles),
    };
  } catch (error) {
    return `MIG instances unreadable: ${(error as Error).message}`;
  }
}

/** A MIG-enabled GPU with the instances that exist on it; a listing problem is its problem. */
function withMig(gpu: DiscoveredGpu, tables: MigTables | string | undefined): DiscoveredGpu {
  if (tables === undefined || typeof tables === "string")
    return { ...gpu, mig: [], problem: tables ?? "MIG instances unreadable" };
  const { instances, skipped } = migInstancesOf(gpu, tables);
  return skipped.length === 0
    ? { ...gpu, mig: instances }
    : { ...gpu, mig: instances, problem: `MIG profiles not offered: ${skipped.join("; ")}` };
}

function runNvidiaSmi(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("nvidia-smi", args, { timeout: 20_000 }, (error, stdout, stderr) => {
      if (error === null) resolve(stdout);
      else reject(new Error(`nvidia-smi failed: ${error.message} ${stderr}`.trim()));
    });
  });
}

async function numaFromSysfs(busId: string): Promise<number> {
  const text = await readFile(`/sys/bus/pci/devices/${sysfsBusId(busId)}/numa_node`, "utf8");
  const numa = Number(text.trim());
  return Number.isInteger(numa) && numa >= 0 ? numa : 0;
}

const mockGpu = z.strictObject({
  uuid: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/, "letters, digits and '-' only")
    .optional(),
  type: z.string().min(1),
  memoryMiB: z.number().int().positive(),
  numa: z.number().int().min(0).default(0),
  healthy: z.boolean().default(true),
  /** This many identical GPUs (uuids generated unless one is given for a single GPU). */
  count: z.number().int().positive().default(1),
  /** MIG mode on, with these instances (as nvidia-smi would list them); MIG UUIDs are generated
   * (MIG-mock-<node>-<gpu index>-<start>) unless given for a single GPU. */
  mig: z
    .array(
      z.strictObject({
        profile: z.string().regex(MIG_PROFILE, 'a MIG profile like "1g.10gb"'),
        memoryMiB: z.number().int().positive(),
        /** Share of the GPU's SMs in percent. */
        cores: z.number().int().min(1).max(100),
        start: z.number().int().min(0).max(63),
        size: z.number().int().min(1).max(64),
        uuid: z
          .string()
          .regex(/^MIG-[A-Za-z0-9-]+$/, "MIG- then letters, digits and '-'")
          .optional(),
      }),
    )
    .max(64)
    .optional(),
  /** What the host reports for it (the monitor's host figures); absent: unknown. */
  usage: z
    .strictObject({
      utilization: z.number().min(0).max(100).optional(),
      memoryUsedMiB: z.number().int().nonnegative().optional(),
      temperatureC: z.number().optional(),
      powerW: z.number().nonnegative().optional(),
    })
    .optional(),
});

export const mockDeviceFileSchema = z.strictObject({
  devices: z.array(mockGpu),
  /** The GPUs' connections as `nvidia-smi topo -m` prints them (GPUi: the i-th GPU listed). */
  topology: z.string().max(65_536).optional(),
});

export class DeviceFileError extends Error {
  override readonly name = "DeviceFileError";
}

type MockEntry = z.infer<typeof mockGpu>;

async function readMockFile(path: string): Promise<z.infer<typeof mockDeviceFileSchema>> {
  const text = await readFile(path, "utf8").catch((error: unknown) => {
    throw new DeviceFileError(`device file ${path}: ${(error as Error).message}`);
  });
  const parsed = mockDeviceFileSchema.safeParse(parse(text));
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new DeviceFileError(`device file ${path}: ${issues}`);
  }
  return parsed.data;
}

function mockInstances(entry: MockEntry, node: string, index: number): MigInstance[] {
  return (entry.mig ?? []).map((m) => ({
    uuid:
      m.uuid !== undefined && entry.count === 1 ? m.uuid : `MIG-mock-${node}-${index}-${m.start}`,
    profile: m.profile,
    memoryMiB: m.memoryMiB,
    cores: m.cores,
    sliceCount: profileSlices(m.profile) ?? 0,
    placement: { start: m.start, size: m.size },
  }));
}

/** Each mock GPU with the entry it came from. */
function mockGpus(entries: readonly MockEntry[], node: string): [DiscoveredGpu, MockEntry][] {
  const gpus: [DiscoveredGpu, MockEntry][] = [];
  for (const entry of entries)
    for (let n = 0; n < entry.count; n++) {
      const index = gpus.length;
      const uuid =
        entry.uuid !== undefined && entry.count === 1 ? entry.uuid : `GPU-mock-${node}-${index}`;
      const gpu: DiscoveredGpu = {
        index,
        uuid,
        type: deviceType(entry.type),
        memoryMiB: entry.memoryMiB,
        numa: entry.numa,
        healthy: entry.healthy,
      };
      if (entry.mig !== undefined) gpu.mig = mockInstances(entry, node, index);
      gpus.push([gpu, entry]);
    }
  return gpus;
}

/** GPUs described in a YAML/JSON file, re-read on every call (edit it to change health or usage). */
export function fileSource(path: string, node: string): DeviceSource {
  return {
    describe: `file ${path}`,
    read: async () => mockGpus((await readMockFile(path)).devices, node).map(([gpu]) => gpu),
    topology: async (gpus) => {
      const { topology } = await readMockFile(path);
      return topology === undefined ? undefined : parseNvidiaSmiTopo(topology, gpus);
    },
    usage: async () =>
      mockGpus((await readMockFile(path)).devices, node).map(([gpu, { usage }]) => {
        const host: HostGpuUsage = { uuid: gpu.uuid, memoryTotalBytes: gpu.memoryMiB * MiB };
        if (usage?.utilization !== undefined) host.utilization = usage.utilization;
        if (usage?.memoryUsedMiB !== undefined) host.memoryUsedBytes = usage.memoryUsedMiB * MiB;
        if (usage?.temperatureC !== undefined) host.temperatureC = usage.temperatureC;
        if (usage?.powerW !== undefined) host.powerW = usage.powerW;
        return host;
      }),
  };
}
