// Simulated GPU nodes for scheduler tests: a Node object that is Ready, with cpu/memory and
// nvidia.com/gpu capacity (GPUs x split, as the device plugin would publish) and the
// hami.io/node-nvidia-register annotation a node agent would write. No kubelet and no GPU exist.

import type { CoreV1Api } from "@kubernetes/client-node";
import { PatchStrategy, setHeaderOptions, type V1Pod } from "@kubernetes/client-node";
import {
  allocationRecord,
  Annotation,
  decodePodDevices,
  encodeNodeDevices,
  type Device,
} from "../../src/core/index.js";

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

export function simulatedGpus(node: string, count: number, extra: Partial<Device> = {}): Device[] {
  return Array.from({ length: count }, (_, index) => ({
    uuid: `GPU-${node}-${index}`,
    index,
    type: "NVIDIA-Tesla-T4",
    memoryMiB: 16_000,
    cores: 100,
    splitCount: 4,
    numa: 0,
    mode: "hami-core",
    healthy: true,
    ...extra,
  }));
}

/** A Ready node with GPU capacity; `register` replaces our encoding of `devices` (e.g. the bytes
 * HAMi's own agent wrote). */
export async function createSimulatedGpuNode(
  core: CoreV1Api,
  name: string,
  devices: Device[],
  register = encodeNodeDevices(devices),
): Promise<void> {
  await core.createNode({
    body: {
      metadata: {
        name,
        labels: { gpu: "on", "kubernetes.io/hostname": name },
        annotations: {
          [Annotation.nodeRegister]: register,
          [Annotation.nodeRegisterTime]: new Date().toISOString(),
        },
      },
    },
  });
  const slots = devices.reduce((sum, d) => sum + d.splitCount, 0);
  const capacity = { cpu: "64", memory: "256Gi", pods: "500", "nvidia.com/gpu": String(slots) };
  const now = new Date();
  await core.patchNodeStatus(
    {
      name,
      body: {
        status: {
          capacity,
          allocatable: capacity,
          conditions: [
            {
              type: "Ready",
              status: "True",
              reason: "Simulated",
              lastHeartbeatTime: now,
              lastTransitionTime: now,
            },
          ],
        },
      },
    },
    mergePatch,
  );
}

/** Per device: summed memory, cores and slices of the pods whose annotations place them there. */
export function deviceTotals(
  pods: V1Pod[],
): Map<string, { memoryMiB: number; cores: number; slots: number; node: string }> {
  const totals = new Map<
    string,
    { memoryMiB: number; cores: number; slots: number; node: string }
  >();
  for (const pod of pods) {
    const { key, raw } = allocationRecord(pod.metadata?.annotations ?? {});
    if (raw === undefined || pod.spec?.nodeName === undefined) continue;
    for (const device of decodePodDevices(raw, key).flat()) {
      const t = totals.get(device.uuid) ?? {
        memoryMiB: 0,
        cores: 0,
        slots: 0,
        node: pod.spec.nodeName,
      };
      totals.set(device.uuid, {
        ...t,
        memoryMiB: t.memoryMiB + device.memoryMiB,
        cores: t.cores + device.cores,
        slots: t.slots + 1,
      });
    }
  }
  return totals;
}
