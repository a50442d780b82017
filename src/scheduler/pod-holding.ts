// What a pod holds, read from its annotations on HAMi's lifecycle: the plan in -allocated (else
// -to-allocate), the MIG instances in hami.io/vgpu-mig-allocations, and which containers still wait
// for Allocate.

import type { V1Pod } from "@kubernetes/client-node";
import {
  allocationRecord,
  Annotation,
  awaitingCounts,
  BindPhase,
  decodePodDevices,
  encodeMigAllocations,
  encodePodDevices,
  plannedDevices,
  type PodDevices,
} from "../core/index.js";

/** Equal keys, equal devices (MIG instances included). */
export function devicesKey(devices: PodDevices): string {
  return encodePodDevices(devices) + (encodeMigAllocations(devices) ?? "");
}

/** HAMi v2.10's rule (pkg/util AllInitContainersSucceeded): once every init container has exited
 * 0, the pod holds only its app containers' devices. */
export function initContainersDone(pod: V1Pod): boolean {
  const statuses = pod.status?.initContainerStatuses ?? [];
  return (
    statuses.length > 0 &&
    statuses.length === (pod.spec?.initContainers?.length ?? 0) &&
    statuses.every((s) => s.state?.terminated?.exitCode === 0)
  );
}

/** A pod's allocation record and its node. */
export function allocationOf(pod: V1Pod): { key: string; raw?: string; node?: string } {
  const annotations = pod.metadata?.annotations ?? {};
  const node = annotations[Annotation.vgpuNode] ?? pod.spec?.nodeName;
  return { ...allocationRecord(annotations), node };
}

/** What a pod holds of its plan (with its MIG instances): without its init containers once they
 * have all finished. */
export function heldDevices(pod: V1Pod): PodDevices {
  const planned = plannedDevices(pod.metadata?.annotations ?? {}) ?? [];
  if (!initContainersDone(pod)) return planned;
  const inits = pod.spec?.initContainers?.length ?? 0;
  return planned.map((list, i) => (i < inits ? [] : list));
}

/** The containers of a bound pod still waiting for Allocate: what -to-allocate keeps while the bind
 * phase is allocating (the agent erases each container it serves). */
export function awaitingOf(pod: V1Pod): number[] {
  const annotations = pod.metadata?.annotations ?? {};
  const raw = annotations[Annotation.devicesToAllocate];
  if (raw === undefined || annotations[Annotation.bindPhase] !== BindPhase.allocating) return [];
  try {
    return awaitingCounts(decodePodDevices(raw, Annotation.devicesToAllocate));
  } catch {
    return [];
  }
}

/** Terminal pods and failed binds hold nothing. */
export function holdsDevices(pod: V1Pod): boolean {
  const phase = pod.status?.phase;
  if (phase === "Succeeded" || phase === "Failed") return false;
  return pod.metadata?.annotations?.[Annotation.bindPhase] !== BindPhase.failed;
}
