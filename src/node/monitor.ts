// The node monitor: every sample period it reads each container's HAMi-core shared region under
// <hookPath>/vgpu/containers/<podUID>_<container>/ and the host's GPU figures, keeps the result for
// /metrics and the page, and reports drift (device memory no region accounts for) as a Warning
// Event on the Node. Containers write into their own cache directory, so every file there is
// untrusted: no symlinks are followed, only regular files of a bounded size are read, and a file
// that is not a region is skipped with one warning, never a crash.

import { constants } from "node:fs";
import { lstat, open, readdir } from "node:fs/promises";
import { join } from "node:path";
import {
  cacheDirProblem,
  nodeUsage,
  readSharedRegion,
  SHARED_REGION_BYTES,
  watchDrift,
  type ContainerRegion,
  type DriftAlert,
  type DriftPolicy,
  type DriftState,
  type NodeUsage,
  type PodOnNode,
} from "../core/index.js";
import type { Logger } from "../telemetry/index.js";
import type { DeviceSource } from "./discovery.js";

/** At most this many container directories are read per sample (a node runs far fewer). */
export const MAX_CONTAINER_DIRS = 4096;
/** A region file larger than this is not a region (HAMi-core's is 2,008,952 bytes). */
const MAX_REGION_FILE = 4 * SHARED_REGION_BYTES;

export interface MonitorOptions {
  node: string;
  hookPath: () => string;
  source: DeviceSource;
  gpus: () => readonly { index: number; uuid: string; type: string; mode?: string }[];
  pods: () => ReadonlyMap<string, PodOnNode>;
  log: Logger;
  drift: DriftPolicy;
  /** Called after each sample (publishing, tests). */
  onSample?: (usage: NodeUsage) => void;
  /** Called for each drift alert, after it was logged. */
  onDrift?: (alert: DriftAlert) => Promise<void>;
  clock?: () => Date;
}

type FileRead = { bytes: Uint8Array } | { skip: string };

/** Reads a region file without following links or blocking on a FIFO: a regular file, bounded. */
async function readRegionFile(path: string): Promise<FileRead> {
  const flags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
  const handle = await open(path, flags).catch((error: unknown) => error as Error);
  if (handle instanceof Error) return { skip: `cannot open: ${handle.message}` };
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) return { skip: "not a regular file" };
    if (stat.size > MAX_REGION_FILE) return { skip: `${stat.size} bytes: too large for a region` };
    const bytes = new Uint8Array(Math.min(stat.size, SHARED_REGION_BYTES));
    const { bytesRead } = await handle.read(bytes, 0, bytes.length, 0);
    return { bytes: bytes.subarray(0, bytesRead) };
  } finally {
    await handle.close();
  }
}

/** The single .cache file in a container's directory, why it cannot be read, or undefined when
 * there is none yet (the container has not started CUDA). */
async function cacheFileIn(dir: string): Promise<string | { skip: string } | undefined> {
  const stat = await lstat(dir).catch(() => undefined);
  if (stat?.isDirectory() !== true) return { skip: "not a directory" };
  const files = (await readdir(dir).catch(() => [])).filter((f) => f.endsWith(".cache"));
  if (files.length === 0) return undefined;
  if (files.length > 1) return { skip: `${files.length} .cache files (HAMi-core writes one)` };
  return join(dir, files[0] ?? "");
}

export class NodeMonitor {
  latest: NodeUsage | undefined;
  private readonly options: MonitorOptions;
  private drift: DriftState = new Map();
  /** Files already warned about, with the reason: each problem is said once. */
  private readonly warned = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(options: MonitorOptions) {
    this.options = options;
  }

  /** Samples every periodMs; a sample still running (nvidia-smi can take up to its 20 s timeout)
   * makes the next tick skip, so samples never pile up. */
  start(periodMs: number): void {
    let running = false;
    const run = (): void => {
      if (running) return;
      running = true;
      this.sample()
        .catch((error: unknown) => {
          this.options.log.warn({ err: error }, "node monitor sample failed");
        })
        .finally(() => {
          running = false;
        });
    };
    run();
    this.timer = setInterval(run, periodMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async sample(): Promise<NodeUsage> {
    const { options } = this;
    const now = (options.clock ?? (() => new Date()))();
    const [regions, host] = await Promise.all([
      this.regions(),
      options.source.usage().catch((error: unknown) => {
        this.warnOnce("host", `host GPU figures unavailable: ${(error as Error).message}`);
        return [];
      }),
    ]);
    const usage = nodeUsage({
      node: options.node,
      now,
      gpus: options.gpus(),
      host,
      regions,
      pods: options.pods(),
    });
    this.latest = usage;
    options.onSample?.(usage);
    const { state, alerts } = watchDrift(this.drift, usage, now.getTime(), options.drift);
    this.drift = state;
    for (const alert of alerts) await this.report(alert);
    return usage;
  }

  /** Every readable container region; the rest skipped with one warning each. */
  private async regions(): Promise<ContainerRegion[]> {
    const root = join(this.options.hookPath(), "vgpu", "containers");
    const names = (await readdir(root).catch(() => [])).slice(0, MAX_CONTAINER_DIRS);
    const seen = new Set<string>();
    const found: ContainerRegion[] = [];
    for (const name of names) {
      const cut = name.indexOf("_");
      const podUID = name.slice(0, cut);
      const container = name.slice(cut + 1);
      if (cut < 0 || cacheDirProblem(podUID, container) !== undefined) continue;
      const dir = join(root, name);
      seen.add(dir);
      const region = await this.regionIn(dir);
      if (region !== undefined) found.push({ podUID, container, region });
    }
    for (const dir of this.warned.keys())
      if (dir !== "host" && !seen.has(dir)) this.warned.delete(dir);
    return found;
  }

  private async regionIn(dir: string): Promise<ContainerRegion["region"] | undefined> {
    const file = await cacheFileIn(dir);
    if (file === undefined) return undefined;
    if (typeof file !== "string") {
      this.warnOnce(dir, file.skip);
      return undefined;
    }
    const read = await readRegionFile(file);
    if ("skip" in read) {
      this.warnOnce(dir, read.skip);
      return undefined;
    }
    const parsed = readSharedRegion(read.bytes);
    if (parsed.ok) {
      this.warned.delete(dir);
      return parsed.region;
    }
    this.warnOnce(dir, parsed.reason);
    return undefined;
  }

  private warnOnce(what: string, reason: string): void {
    if (this.warned.get(what) === reason) return;
    this.warned.set(what, reason);
    this.options.log.warn(
      { node: this.options.node, file: what, reason },
      "skipping a shared region",
    );
  }

  private async report(alert: DriftAlert): Promise<void> {
    const { gpu } = alert;
    this.options.log.warn(
      {
        node: this.options.node,
        devices: [gpu.uuid],
        untrackedBytes: gpu.untrackedBytes,
        trackedBytes: gpu.trackedBytes,
        reason: alert.kind === "raised" ? "untracked-memory" : "untracked-memory-cleared",
      },
      alert.kind === "raised"
        ? "device memory in use that no container's region accounts for"
        : "untracked device memory back under the threshold",
    );
    await this.options.onDrift?.(alert).catch((error: unknown) => {
      this.options.log.warn({ err: error }, "could not report drift");
    });
  }
}
