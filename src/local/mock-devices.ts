// The simulated nodes' mock device files (`hami node --devices file:`): their GPUs and, where
// asked, a SIMULATED `nvidia-smi topo -m` so topology-aware has pair scores to use.

import { writeFile } from "node:fs/promises";
import type { V1Taint } from "@kubernetes/client-node";
import { join } from "node:path";
import { stringify } from "yaml";

/** A simulated GPU node of the local mode. */
export interface LocalNode {
  name: string;
  gpus: {
    uuidPrefix: string;
    type: string;
    memoryMiB: number;
    count: number;
    /** NVLinked groups of this many GPUs (NV2 inside, SYS across), as `nvidia-smi topo -m`. */
    nvlinkGroup?: number;
    /** MIG mode on, with these instances on every GPU (the mock device file's `mig`). */
    mig?: { profile: string; memoryMiB: number; cores: number; start: number; size: number }[];
  };
  /** The simulated node's taints (a dedicated MIG node keeps other pods away). */
  taints?: V1Taint[];
}

export async function writeMockDevices(dir: string, node: LocalNode): Promise<string> {
  const devices = Array.from({ length: node.gpus.count }, (_, i) => ({
    uuid: `${node.gpus.uuidPrefix}-${i}`,
    type: node.gpus.type,
    memoryMiB: node.gpus.memoryMiB,
    ...(node.gpus.mig === undefined ? {} : { mig: node.gpus.mig }),
  }));
  const path = join(dir, `${node.name}-gpus.yaml`);
  const group = node.gpus.nvlinkGroup;
  await writeFile(
    path,
    stringify(
      group === undefined ? { devices } : { devices, topology: topoMatrix(devices.length, group) },
    ),
  );
  return path;
}

/** A SIMULATED `nvidia-smi topo -m`: groups of `group` GPUs NVLinked (NV2), SYS between groups. */
function topoMatrix(count: number, group: number): string {
  const names = Array.from({ length: count }, (_, i) => `GPU${i}`);
  const cell = (i: number, j: number): string =>
    i === j ? " X " : Math.floor(i / group) === Math.floor(j / group) ? "NV2" : "SYS";
  return [
    `\t${names.join("\t")}`,
    ...names.map((name, i) => `${name}\t${names.map((_, j) => cell(i, j)).join("\t")}`),
  ].join("\n");
}
