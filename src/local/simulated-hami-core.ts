// A SIMULATED HAMi-core install for machines without GPUs (local mode, tests, benchmarks): the files
// the chart's device-plugin init container puts under <hookPath>/vgpu on a real node. The agent
// refuses Allocate where they are missing, since containerd would mount a missing file source as an
// empty directory. The library is a marker, not a shared object: nothing here loads it (the real-node
// pods run busybox-static, which never reads /etc/ld.so.preload).

import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

export const SIMULATED_LIBRARY =
  "SIMULATED HAMi-core (hami-ts local mode and tests): no GPU here\n";

export async function installSimulatedHamiCore(hookPath: string): Promise<void> {
  const vgpu = join(hookPath, "vgpu");
  await mkdir(vgpu, { recursive: true });
  await writeFile(join(vgpu, "libvgpu.so"), SIMULATED_LIBRARY);
  await writeFile(join(vgpu, "ld.so.preload"), `${join(vgpu, "libvgpu.so")}\n`);
}
