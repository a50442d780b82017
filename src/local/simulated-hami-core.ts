// A SIMULATED HAMi-core install for machines without GPUs (local mode, tests, benchmarks): the files
// the chart's device-plugin init container puts under <hookPath>/vgpu on a real node, and, when
// asked, the shared region each container's HAMi-core would keep current (the node monitor reads
// it). The agent
// refuses Allocate where they are missing, since containerd would mount a missing file source as an
// empty directory. The library is a marker, not a shared object: nothing here loads it (the real-node
// pods run busybox-static, which never reads /etc/ld.so.preload).

import { createHash } from "node:crypto";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { encodeSharedRegion } from "../core/index.js";
import type { ContainerAllocateResponse } from "../node/index.js";

const MiB = 1024 * 1024;

export const SIMULATED_LIBRARY =
  "SIMULATED HAMi-core (hami-ts local mode and tests): no GPU here\n";

export async function installSimulatedHamiCore(hookPath: string): Promise<void> {
  const vgpu = join(hookPath, "vgpu");
  await mkdir(vgpu, { recursive: true });
  await writeFile(join(vgpu, "libvgpu.so"), SIMULATED_LIBRARY);
  await writeFile(join(vgpu, "ld.so.preload"), `${join(vgpu, "libvgpu.so")}\n`);
}

/** A stable share (0.2..0.8) from a name, so each simulated container uses its own part of its limit. */
function shareOf(seed: string): number {
  const digest = createHash("sha256").update(seed).digest();
  return 0.2 + (0.6 * digest.readUInt16BE(0)) / 0xffff;
}

/** What HAMi-core in a container would leave in its shared region (SIMULATED: no GPU, no CUDA):
 * one process using a stable share of each device's limit, written where the Allocate answer put
 * the container's cache. Returns the file, or undefined when the answer mounts no cache (control
 * disabled). */
export async function writeSimulatedRegion(
  response: ContainerAllocateResponse,
  seed: string,
): Promise<string | undefined> {
  const cache = response.envs.CUDA_DEVICE_MEMORY_SHARED_CACHE;
  if (cache === undefined) return undefined;
  const dir = response.mounts.find((m) => m.container_path === dirname(cache))?.host_path;
  if (dir === undefined) return undefined;
  const share = shareOf(seed);
  const smLimit = Number(response.envs.CUDA_DEVICE_SM_LIMIT ?? "0");
  const devices = (response.envs.NVIDIA_VISIBLE_DEVICES ?? "")
    .split(",")
    .filter((uuid) => uuid !== "")
    .map((uuid, i) => ({
      uuid,
      limitBytes: Number.parseInt(response.envs[`CUDA_DEVICE_MEMORY_LIMIT_${i}`] ?? "0", 10) * MiB,
      smLimit,
    }));
  const region = encodeSharedRegion({
    devices,
    processes: [
      {
        hostPid: 1,
        devices: devices.map((d) => ({
          usedBytes: Math.round(d.limitBytes * share),
          bufferBytes: Math.round(d.limitBytes * share * 0.8),
          contextBytes: Math.round(d.limitBytes * share * 0.2),
          smUtil: Math.round((smLimit > 0 ? smLimit : 100) * share),
        })),
      },
    ],
    lastKernelTime: Math.floor(Date.now() / 1000),
  });
  const file = join(dir, basename(cache));
  await writeFile(`${file}.tmp`, region);
  await rename(`${file}.tmp`, file);
  return file;
}
