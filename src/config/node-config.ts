// Per-node device settings, HAMi's way: the device plugin's config.json (HAMi chart value
// devicePlugin.nodeConfiguration.config, ConfigMap hami-device-plugin) holds a `nodeconfig` list,
// one entry per node name, whose fields override the cluster's nvidia settings on that node
// (Project-HAMi/HAMi pkg/device/nvidia/device.go, DevicePluginConfigs and NodeDefaultConfig; JSON
// keys all lower case). Pure: the file's text comes in, the node's effective settings and where
// each came from go out, so `hami status` and `hami explain` can say which setting won.

import { z } from "zod";
import { parse } from "yaml";
import type { NvidiaConfig } from "./schema.js";

const entrySchema = z.looseObject({
  name: z.string().min(1).max(253),
  operatingmode: z.enum(["hami-core", "mig", "mps"]).optional(),
  devicesplitcount: z.number().int().min(1).max(1024).optional(),
  devicememoryscaling: z.number().min(0.1).max(100).optional(),
  devicecorescaling: z.number().min(0.1).max(100).optional(),
  libcudaloglevel: z.coerce.number().int().min(0).max(4).optional(),
  migstrategy: z.enum(["none", "mixed"]).optional(),
  filterdevices: z
    .strictObject({
      uuid: z.array(z.string().max(128)).max(1024).nullish(),
      index: z.array(z.number().int().min(0).max(1023)).max(1024).nullish(),
    })
    .nullish(),
  preconfigureddevicememory: z.number().int().min(0).optional(),
  enablenumatopology: z.boolean().optional(),
  enablegetpreferredallocation: z.boolean().optional(),
});

export const nodeConfigFileSchema = z.looseObject({
  nodeconfig: z.array(entrySchema).max(100_000).nullish(),
});

export type NodeConfigEntry = z.infer<typeof entrySchema>;
export type NodeConfigFile = z.infer<typeof nodeConfigFileSchema>;

/** Keys HAMi accepts that hami-ts reads but does not apply, and why. */
const NOT_APPLIED: Record<string, string> = {
  preconfigureddevicememory: "memory is read from nvidia-smi",
  enablenumatopology: "NUMA is registered per GPU and checked by the scheduler",
  enablegetpreferredallocation: "the kubelet's preferred allocation is always answered",
};
const KNOWN = new Set([
  "name",
  "operatingmode",
  "devicesplitcount",
  "devicememoryscaling",
  "devicecorescaling",
  "libcudaloglevel",
  "migstrategy",
  "filterdevices",
  ...Object.keys(NOT_APPLIED),
]);

export class NodeConfigError extends Error {
  override readonly name = "NodeConfigError";
}

/** Parses config.json (JSON or YAML); an invalid file names the field and value. */
export function parseNodeConfig(text: string, source: string): NodeConfigFile {
  let document: unknown;
  try {
    document = parse(text) as unknown;
  } catch (error) {
    throw new NodeConfigError(`${source}: not JSON or YAML: ${(error as Error).message}`);
  }
  const parsed = nodeConfigFileSchema.safeParse(document ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new NodeConfigError(`${source}: ${issues.join("; ")}`);
  }
  return parsed.data;
}

export type SettingSource = "nodeconfig" | "config";

interface Setting<T> {
  value: T;
  from: SettingSource;
}

/** A node's effective device settings, each with where it came from. */
export interface NodeSettings {
  deviceSplitCount: Setting<number>;
  deviceMemoryScaling: Setting<number>;
  deviceCoreScaling: Setting<number>;
  libCudaLogLevel: Setting<number | undefined>;
  migstrategy: Setting<string>;
  operatingMode: Setting<string>;
  filterDevices: Setting<{ uuid: string[]; index: number[] }>;
  /** Entries or keys that were not applied, and why. */
  notes: string[];
}

function pick<T>(own: T | undefined, cluster: T): Setting<T> {
  return own === undefined
    ? { value: cluster, from: "config" }
    : { value: own, from: "nodeconfig" };
}

function notesFor(entry: NodeConfigEntry, duplicates: number): string[] {
  const notes: string[] = [];
  if (duplicates > 1)
    notes.push(`nodeconfig has ${duplicates} entries for this node; the first one applies`);
  for (const key of Object.keys(entry)) {
    const why = NOT_APPLIED[key];
    if (why !== undefined) notes.push(`nodeconfig ${key} is not applied: ${why}`);
    else if (!KNOWN.has(key)) notes.push(`nodeconfig ${key} is not a HAMi node setting; ignored`);
  }
  if (entry.operatingmode === "mps")
    notes.push(
      "nodeconfig operatingmode mps is not served (hami-core and mig only); GPUs are registered as hami-core",
    );
  return notes;
}

/** The settings for one node: its nodeconfig entry over the cluster's nvidia settings. */
export function nodeSettings(
  cluster: NvidiaConfig,
  file: NodeConfigFile | undefined,
  node: string,
): NodeSettings {
  const entries = (file?.nodeconfig ?? []).filter((e) => e.name === node);
  const entry: NodeConfigEntry = entries[0] ?? { name: node };
  const filter = entry.filterdevices;
  return {
    deviceSplitCount: pick(entry.devicesplitcount, cluster.deviceSplitCount),
    deviceMemoryScaling: pick(entry.devicememoryscaling, cluster.deviceMemoryScaling),
    deviceCoreScaling: pick(entry.devicecorescaling, cluster.deviceCoreScaling),
    libCudaLogLevel: pick(entry.libcudaloglevel, cluster.libCudaLogLevel),
    migstrategy: pick(entry.migstrategy, cluster.migstrategy),
    operatingMode: pick(entry.operatingmode, "hami-core"),
    filterDevices:
      filter === undefined || filter === null
        ? { value: { uuid: [], index: [] }, from: "config" }
        : { value: { uuid: filter.uuid ?? [], index: filter.index ?? [] }, from: "nodeconfig" },
    notes: entries.length === 0 ? [] : notesFor(entry, entries.length),
  };
}

const published = <T extends z.ZodType>(value: T) =>
  z.object({ value, from: z.enum(["nodeconfig", "config"]) });
const publishedSchema = z.object({
  deviceSplitCount: published(z.number()),
  deviceMemoryScaling: published(z.number()),
  deviceCoreScaling: published(z.number()),
  libCudaLogLevel: published(z.number().optional()),
  migstrategy: published(z.string().max(32)),
  operatingMode: published(z.string().max(32)),
  filterDevices: published(
    z.object({
      uuid: z.array(z.string().max(128)).max(1024),
      index: z.array(z.number()).max(1024),
    }),
  ),
  notes: z.array(z.string().max(512)).max(64),
});

/** One line from a node's hami.io/node-settings annotation: each setting with where it came from
 * ("split 4 (nodeconfig), memory x1 (config), ..."); undefined when absent or unreadable. */
export function describeNodeSettings(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return undefined;
  }
  const parsed = publishedSchema.safeParse(data);
  if (!parsed.success) return undefined;
  const s = parsed.data;
  const filter = s.filterDevices.value;
  const parts = [
    `split ${s.deviceSplitCount.value} (${s.deviceSplitCount.from})`,
    `memory x${s.deviceMemoryScaling.value} (${s.deviceMemoryScaling.from})`,
    `cores x${s.deviceCoreScaling.value} (${s.deviceCoreScaling.from})`,
    `mode ${s.operatingMode.value} (${s.operatingMode.from})`,
  ];
  if (s.libCudaLogLevel.value !== undefined)
    parts.push(`log level ${s.libCudaLogLevel.value} (${s.libCudaLogLevel.from})`);
  if (filter.uuid.length + filter.index.length > 0)
    parts.push(
      `not registered: ${[...filter.uuid, ...filter.index.map((i) => `index ${i}`)].join(", ")} (${s.filterDevices.from})`,
    );
  return [parts.join(", "), ...s.notes].join("; ");
}
