// MIG instances that exist on a GPU, read from nvidia-smi's text (the formats shown in NVIDIA's
// Multi-Instance GPU User Guide, "Getting Started with MIG"): `nvidia-smi -L` lists each MIG device
// under its GPU with its profile name and MIG UUID; `nvidia-smi mig -lgi` lists GPU instances with
// their placement (Start:Size); `nvidia-smi mig -lgip` lists each profile's memory (GiB) and SMs.
// Read-only: hami-ts never creates or destroys instances (an operator or the GPU operator does).
// nvidia-smi does not print which MIG UUID belongs to which GPU instance; instances of one profile
// on one GPU are equal in size, so they are paired in listed order (MIG devices as -L lists them,
// instances by placement start): a one-to-one pairing that is stable while the layout is. A profile
// whose instances carry several compute instances (-L then lists more devices than -lgi instances)
// is not offered. Every parser skips what it cannot read; nothing here throws on output.

import type { MigPlacement } from "../core/index.js";

export interface MigInstance {
  /** The MIG device's UUID (MIG-...), what the container is given. */
  uuid: string;
  profile: string;
  memoryMiB: number;
  /** Share of the GPU's SMs in percent, rounded up (HAMi's core of a profile). */
  cores: number;
  sliceCount: number;
  placement: MigPlacement;
}

/** A profile name as NVIDIA writes it: Ng.Mgb, optionally +me and similar suffixes. */
export const MIG_PROFILE = /^(\d+)g\.\d+gb(?:\+[a-z0-9.]+)?$/i;

/** The GPU slices of a profile ("3g.40gb" -> 3), or undefined when the name is not a GI profile. */
export function profileSlices(name: string): number | undefined {
  const match = MIG_PROFILE.exec(name);
  return match === null ? undefined : Number(match[1]);
}

/** `nvidia-smi -L`: per GPU uuid, its MIG devices in listed order. */
export function parseMigDevices(text: string): Map<string, { profile: string; uuid: string }[]> {
  const result = new Map<string, { profile: string; uuid: string }[]>();
  let gpu: { profile: string; uuid: string }[] | undefined;
  for (const line of text.split(/\r?\n/)) {
    const parent = /^GPU\s+\d+:.*\(UUID:\s*(GPU-[A-Za-z0-9-]+)\)/.exec(line.trim());
    if (parent !== null) {
      gpu = [];
      result.set(parent[1] ?? "", gpu);
      continue;
    }
    const mig = /^MIG\s+(\S+)\s+Device\s+\d+:\s*\(UUID:\s*(MIG-[A-Za-z0-9/-]+)\)/.exec(line.trim());
    if (mig !== null && gpu !== undefined) gpu.push({ profile: mig[1] ?? "", uuid: mig[2] ?? "" });
  }
  return result;
}

/** The cells of one table row of nvidia-smi's boxed output ("|  0  MIG 1g.10gb  19 ... |"). */
function rowCells(line: string): string[] | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith("|") || !trimmed.endsWith("|")) return undefined;
  return trimmed.slice(1, -1).trim().split(/\s+/);
}

/** `nvidia-smi mig -lgi`: GPU instances as GPU index, profile and placement. */
export function parseGpuInstances(
  text: string,
): { gpu: number; profile: string; placement: MigPlacement }[] {
  const result: { gpu: number; profile: string; placement: MigPlacement }[] = [];
  for (const line of text.split(/\r?\n/)) {
    const cells = rowCells(line);
    // GPU, "MIG", name, profile id, instance id, start:size
    if (cells?.length !== 6 || cells[1] !== "MIG") continue;
    const gpu = Number(cells[0]);
    const at = /^(\d+):(\d+)$/.exec(cells[5] ?? "");
    const profile = cells[2] ?? "";
    if (!Number.isInteger(gpu) || at === null || profileSlices(profile) === undefined) continue;
    const size = Number(at[2]);
    if (size > 0) result.push({ gpu, profile, placement: { start: Number(at[1]), size } });
  }
  return result;
}

/** One -lgip profile row: GPU, MIG name, id, free/total, memory GiB, P2P, SM, DEC, ENC. */
const PROFILE_ROW =
  /^\|\s*(\d+)\s+MIG\s+(\S+)\s+\d+\s+\d+\/\d+\s+(\d+(?:\.\d+)?)\s+\S+\s+(\d+)\s+\d+\s+\d+\s*\|$/;

function profileRow(line: string): [string, { memoryMiB: number; sm: number }] | undefined {
  const match = PROFILE_ROW.exec(line.trim());
  if (match === null) return undefined;
  const [, gpu, profile = "", gib, sm] = match;
  const memoryMiB = Math.round(Number(gib) * 1024);
  if (profileSlices(profile) === undefined || memoryMiB <= 0) return undefined;
  return [`${gpu}/${profile}`, { memoryMiB, sm: Number(sm) }];
}

/** `nvidia-smi mig -lgip`: per "GPU index/profile", its memory (MiB) and SM count. */
export function parseGpuInstanceProfiles(
  text: string,
): Map<string, { memoryMiB: number; sm: number }> {
  const result = new Map<string, { memoryMiB: number; sm: number }>();
  for (const line of text.split(/\r?\n/)) {
    const row = profileRow(line);
    if (row !== undefined) result.set(row[0], row[1]);
  }
  return result;
}

export interface MigTables {
  devices: ReturnType<typeof parseMigDevices>;
  instances: ReturnType<typeof parseGpuInstances>;
  profiles: ReturnType<typeof parseGpuInstanceProfiles>;
}

/** The instances of one GPU (index, uuid) from the three tables, with why any were left out. */
export function migInstancesOf(
  gpu: { index: number; uuid: string },
  tables: MigTables,
): { instances: MigInstance[]; skipped: string[] } {
  const mine = tables.instances
    .filter((i) => i.gpu === gpu.index)
    .sort((a, b) => a.placement.start - b.placement.start);
  const devices = tables.devices.get(gpu.uuid) ?? [];
  const maxSm = Math.max(
    0,
    ...[...tables.profiles].filter(([key]) => key.startsWith(`${gpu.index}/`)).map(([, p]) => p.sm),
  );
  const instances: MigInstance[] = [];
  const skipped: string[] = [];
  for (const profile of new Set(mine.map((i) => i.profile))) {
    const placed = mine.filter((i) => i.profile === profile);
    const listed = devices.filter((d) => d.profile === profile);
    const info = tables.profiles.get(`${gpu.index}/${profile}`);
    if (listed.length !== placed.length || info === undefined || maxSm === 0) {
      skipped.push(
        info === undefined || maxSm === 0
          ? `${profile}: no profile row in nvidia-smi mig -lgip`
          : `${profile}: ${placed.length} GPU instance(s) but ${listed.length} MIG device(s) (several compute instances per GPU instance are not offered)`,
      );
      continue;
    }
    placed.forEach((instance, i) => {
      instances.push({
        uuid: listed[i]?.uuid ?? "",
        profile,
        memoryMiB: info.memoryMiB,
        cores: Math.ceil((info.sm * 100) / maxSm),
        sliceCount: profileSlices(profile) ?? 0,
        placement: instance.placement,
      });
    });
  }
  return { instances, skipped };
}
