// What an Allocate answer is made of (the vendor writes it: core/nvidia/allocate.ts for the HAMi-core
// contract, DESIGN.md section 4), the host paths it may name, and which pending container a kubelet
// Allocate call is for (section 3). Pure: ids, paths and the cache file name come in as data.

import { parseGoBool } from "./codec.js";
import type { PodDevices } from "./device.js";
import { DNS_LABEL_PATTERN, POD_UID_PATTERN } from "./names.js";

export interface AllocatePolicy {
  /** HAMi-core's install path on host and in the container (config hookPath). */
  hookPath: string;
  memoryScaling: number;
  disableCoreLimit: boolean;
  libCudaLogLevel?: number;
  /** Host directory mounted at /tmp/vgpulock, where HAMi-core keeps its lock files. */
  lockDir: string;
}

/** HAMi-core's lock directory inside the container (HAMi mounts the host's /tmp/vgpulock there:
 * Project-HAMi/HAMi, pkg/device-plugin/nvidiadevice/nvinternal/plugin/server.go). */
export const VGPU_LOCK_DIR = "/tmp/vgpulock";

export interface Mount {
  containerPath: string;
  hostPath: string;
  readOnly: boolean;
  /** What the host path must be. containerd creates a missing source as a directory, so a file
   * source must exist before Allocate answers, and a directory source is made by the agent. */
  source: "file" | "directory";
}

export interface ContainerResponse {
  envs: Record<string, string>;
  mounts: Mount[];
}

export interface ContainerIdentity {
  podUID: string;
  container: string;
  /** Env the container sets itself (CUDA_DISABLE_CONTROL, a Go bool, turns HAMi-core off). */
  env: Record<string, string>;
}

/** The host directory of one container's shared cache; removed when the pod goes away. Only for an
 * identity that cacheDirProblem accepts: both parts end up in a host path. */
export function containerCacheDir(hookPath: string, podUID: string, container: string): string {
  return `${hookPath}/vgpu/containers/${podUID}_${container}`;
}

/** Why a pod uid and container name cannot name a host directory (a UUID and a DNS-1123 label, as
 * Kubernetes makes them), or undefined when they can. */
export function cacheDirProblem(podUID: string, container: string): string | undefined {
  if (!POD_UID_PATTERN.test(podUID))
    return `pod uid ${JSON.stringify(podUID.slice(0, 64))} is not a UUID`;
  if (!DNS_LABEL_PATTERN.test(container))
    return `container name ${JSON.stringify(container.slice(0, 64))} is not a DNS-1123 label`;
  return undefined;
}

/** CUDA_DISABLE_CONTROL read as HAMi does (Go's strconv.ParseBool; anything else is false). */
export function controlDisabled(env: Readonly<Record<string, string | undefined>>): boolean {
  return parseGoBool(env.CUDA_DISABLE_CONTROL ?? "") === true;
}

/** controlDisabled for an env list as a pod spec holds it (a later entry wins, as in Kubernetes). */
export function envDisablesControl(
  env: readonly { name: string; value?: string }[] | undefined,
): boolean {
  return controlDisabled(Object.fromEntries((env ?? []).map((e) => [e.name, e.value])));
}

/** A pod bound to this node whose devices the kubelet has not (all) asked for yet. */
export interface PendingPod {
  uid: string;
  namespace: string;
  name: string;
  /** Kubelet admits pods in creation order (epoch ms; the API keeps whole seconds)... */
  created: number;
  /** ...and pods created in the same second in the order they reached it: approximated by the
   * resourceVersion at which the pod was first seen bound to this node. */
  arrival: number;
  /** Containers in PodDevices order: init containers, then app containers. */
  containers: string[];
  devices: PodDevices;
  /** Per container (PodDevices order): already given its devices by Allocate. */
  served: boolean[];
}

export interface AllocateMatch {
  pod: PendingPod;
  /** Index in PodDevices order. */
  container: number;
}

/** The next container of the pod the kubelet will ask devices for, or undefined when none is left.
 * The kubelet asks init containers first, then app ones: PodDevices order. */
export function nextContainer(pod: PendingPod): number | undefined {
  const index = pod.devices.findIndex(
    (devices, i) => !(pod.served[i] ?? false) && devices.length > 0,
  );
  return index === -1 ? undefined : index;
}

/**
 * Which pending container an Allocate call for `count` devices is for: in pod creation order, the
 * first pod whose next container wants that many devices. A pod whose next container wants a
 * different count is skipped (the kubelet asks for that pod later), so the answer also explains a
 * mismatch.
 */
export function matchAllocate(
  pending: readonly PendingPod[],
  count: number,
): AllocateMatch | { error: string } {
  const ordered = [...pending].sort(
    (a, b) => a.created - b.created || a.arrival - b.arrival || (a.uid < b.uid ? -1 : 1),
  );
  const seen: string[] = [];
  for (const pod of ordered) {
    const container = nextContainer(pod);
    if (container === undefined) continue;
    const wanted = pod.devices[container]?.length ?? 0;
    if (wanted === count) return { pod, container };
    seen.push(
      `${pod.namespace}/${pod.name} container ${pod.containers[container] ?? container} expects ${wanted}`,
    );
  }
  return {
    error:
      seen.length === 0
        ? `no pod bound to this node is waiting for devices (asked for ${count})`
        : `no pending container asks for ${count} device(s): ${seen.join("; ")}`,
  };
}

/** The device counts of the containers the kubelet will still call Allocate for (PodDevices
 * order; containers without devices get no call). Allocate carries device IDs only, so a call is
 * told apart from another pod's by its count alone. */
export function awaitingCounts(pending: PodDevices): number[] {
  return pending.map((list) => list.length).filter((count) => count > 0);
}

/** Whether some Allocate call of one pod could be taken for one of the other's: a container of each
 * asks for the same number of devices. The kubelet may admit two such pods in either order. */
export function confusable(a: readonly number[], b: readonly number[]): boolean {
  return a.some((count) => b.includes(count));
}
