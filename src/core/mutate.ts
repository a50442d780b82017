// The admission decision for one pod: skip it, deny it with a reason, or rewrite its GPU requests
// into complete vGPU requests (defaults applied, scheduler set). Pure: returns a new Pod, never
// touches its input, does no I/O.

import { asksForGPU, readContainerRequest } from "./container-request.js";
import { HamiError } from "./errors.js";
import { readPodPreferences } from "./pod-annotations.js";
import { exclusiveByDefault } from "./pod-request.js";
import { Reason, SkipReason } from "./reasons.js";
import type { Container, ContainerGPURequest, Pod, ResourceNames } from "./types.js";

export const IGNORE_LABEL = "hami.io/webhook";
export const IGNORE_VALUE = "ignore";
export const CHANGES_ANNOTATION = "hami.io/webhook-changes";
export const DEFAULT_SCHEDULER = "default-scheduler";

export const GPUCorePolicies = ["default", "force", "disable"] as const;
export type GPUCorePolicy = (typeof GPUCorePolicies)[number];

/** Everything the mutation needs from configuration, already validated. */
export interface MutatePolicy {
  resourceNames: ResourceNames;
  /** MiB per GPU when a container gives none; 0 means the whole GPU (100%). */
  defaultMemory: number;
  /** Cores percentage when a container gives none; 0 means "not set". */
  defaultCores: number;
  defaultGPUNum: number;
  /** gpumem is counted in units of this many MiB (HAMi's memoryFactor). */
  memoryFactor: number;
  /** Above this count a container is admitted with a warning: no node has that many GPUs. */
  maxGPUCount: number;
  schedulerName: string;
  forceOverwriteDefaultScheduler: boolean;
  overwriteEnv: boolean;
  gpuCorePolicy: GPUCorePolicy;
  runtimeClassName?: string;
}

export type MutateDecision =
  | { kind: "skip"; reason: SkipReason; message: string }
  | { kind: "deny"; code: 400 | 403; reason: Reason; message: string }
  | { kind: "mutate"; pod: Pod; changes: string[]; warnings: string[] };

interface Slot {
  container: Container;
  path: string;
  request: ContainerGPURequest;
}

class Recorder {
  readonly changes: string[] = [];
  readonly warnings: string[] = [];
  note(container: string | undefined, what: string): void {
    this.changes.push(container === undefined ? what : `container ${container}: ${what}`);
  }
}

function copyContainer(container: Container): Container {
  const copy: Container = { ...container };
  const resources = container.resources;
  if (resources) {
    copy.resources = { ...resources };
    if (resources.limits) copy.resources.limits = { ...resources.limits };
    if (resources.requests) copy.resources.requests = { ...resources.requests };
  }
  if (container.env) copy.env = container.env.map((entry) => ({ ...entry }));
  return copy;
}

/**
 * Copies exactly the parts a mutation may write (metadata maps, spec scalars, containers'
 * resources and env); the rest is shared with the input, which is never written. A deep clone of a
 * real pod costs most of the admission's CPU time.
 */
function copyForMutation(input: Pod): Pod {
  const { metadata, spec } = input;
  const pod: Pod = { ...input, spec: { ...spec, containers: spec.containers.map(copyContainer) } };
  if (spec.initContainers) pod.spec.initContainers = spec.initContainers.map(copyContainer);
  if (metadata) {
    pod.metadata = { ...metadata };
    if (metadata.annotations) pod.metadata.annotations = { ...metadata.annotations };
  }
  return pod;
}

function slotsOf(pod: Pod, policy: MutatePolicy): Slot[] {
  const read = (containers: Container[] | undefined, kind: string): Slot[] =>
    (containers ?? []).map((container, index) => {
      const path = `spec.${kind}[${index}]`;
      const request = readContainerRequest(container, policy.resourceNames, path);
      return { container, path, request };
    });
  return [
    ...read(pod.spec.initContainers, "initContainers"),
    ...read(pod.spec.containers, "containers"),
  ];
}

function gpuResourceNames(names: ResourceNames): string[] {
  return [names.count, names.memory, names.memoryPercentage, names.cores, names.priority];
}

function setResource(container: Container, gpuNames: string[], name: string, value: number): void {
  const resources = (container.resources ??= {});
  (resources.limits ??= {})[name] = String(value);
  const requests = resources.requests;
  if (requests && gpuNames.some((gpuName) => gpuName in requests)) requests[name] = String(value);
}

function setEnv(container: Container, name: string, value: string): boolean {
  const env = (container.env ??= []);
  const existing = env.find((entry) => entry.name === name);
  if (existing?.value === value && existing.valueFrom === undefined) return false;
  if (existing) {
    existing.value = value;
    delete existing.valueFrom;
  } else {
    env.push({ name, value });
  }
  return true;
}

/** Writes the memory default for a container that names none (0 counts as none, as in HAMi). */
function completeMemory(slot: Slot, policy: MutatePolicy, gpuNames: string[], rec: Recorder): void {
  const { container, request } = slot;
  const names = policy.resourceNames;
  const mib = request.memoryMiB ?? 0;
  const percent = request.memoryPercentage ?? 0;
  if (mib > 0 && percent > 0) {
    rec.warnings.push(
      `container ${container.name}: both ${names.memory} and ${names.memoryPercentage} set; ${names.memory}=${mib} is used`,
    );
    return;
  }
  if (mib > 0 || percent > 0) return;
  if (policy.defaultMemory > 0 && policy.memoryFactor === 1) {
    setResource(container, gpuNames, names.memory, policy.defaultMemory);
    rec.note(container.name, `${names.memory}=${policy.defaultMemory} (defaultMemory)`);
  } else if (policy.defaultMemory > 0) {
    // gpumem is read x memoryFactor; the MiB default is applied by the scheduler instead.
    rec.note(container.name, `${policy.defaultMemory} MiB per GPU (defaultMemory, at scheduling)`);
  } else {
    setResource(container, gpuNames, names.memoryPercentage, 100);
    rec.note(container.name, `${names.memoryPercentage}=100 (defaultMemory 0 = whole GPU)`);
  }
}

/** HAMi's core rules: exclusive (100) when the user named no memory or 100 %, else defaultCores. */
function completeCores(slot: Slot, policy: MutatePolicy, gpuNames: string[], rec: Recorder): void {
  const { container, request } = slot;
  const names = policy.resourceNames;
  if (exclusiveByDefault(request)) {
    setResource(container, gpuNames, names.cores, 100);
    rec.note(container.name, `${names.cores}=100 (no cores and whole-GPU or no memory: exclusive)`);
  } else if (request.cores === undefined && policy.defaultCores > 0) {
    setResource(container, gpuNames, names.cores, policy.defaultCores);
    rec.note(container.name, `${names.cores}=${policy.defaultCores} (defaultCores)`);
  } else if (request.cores !== undefined && request.cores > 100) {
    rec.warnings.push(
      `container ${container.name}: ${names.cores}=${request.cores} is more than a GPU; 100 is used`,
    );
  }
}

function completeGPUContainer(slot: Slot, policy: MutatePolicy, rec: Recorder): void {
  const { container, request } = slot;
  const names = policy.resourceNames;
  const gpuNames = gpuResourceNames(names);
  if (request.count === 0) {
    rec.warnings.push(
      `container ${container.name}: ${names.count}=0, so it gets no GPU; its other GPU resources are ignored`,
    );
    return;
  }
  if (request.count === undefined) {
    setResource(container, gpuNames, names.count, policy.defaultGPUNum);
    rec.note(container.name, `${names.count}=${policy.defaultGPUNum} (defaultGPUNum)`);
  } else if (request.count > policy.maxGPUCount) {
    rec.warnings.push(
      `container ${container.name}: ${names.count}=${request.count}: no node offers more than ${policy.maxGPUCount} GPUs (scheduler.maxGPUCount); the pod will stay pending`,
    );
  }
  completeMemory(slot, policy, gpuNames, rec);
  completeCores(slot, policy, gpuNames, rec);
  if (
    request.priority !== undefined &&
    setEnv(container, "CUDA_TASK_PRIORITY", String(request.priority))
  ) {
    rec.note(container.name, `env CUDA_TASK_PRIORITY=${request.priority} (${names.priority})`);
  }
  if (
    policy.gpuCorePolicy !== "default" &&
    setEnv(container, "GPU_CORE_UTILIZATION_POLICY", policy.gpuCorePolicy)
  ) {
    rec.note(
      container.name,
      `env GPU_CORE_UTILIZATION_POLICY=${policy.gpuCorePolicy} (gpuCorePolicy)`,
    );
  }
}

function completeScheduling(pod: Pod, policy: MutatePolicy, rec: Recorder): void {
  if (pod.spec.schedulerName !== policy.schedulerName) {
    pod.spec.schedulerName = policy.schedulerName;
    rec.note(undefined, `schedulerName=${policy.schedulerName}`);
  }
  if (policy.runtimeClassName !== undefined && pod.spec.runtimeClassName === undefined) {
    pod.spec.runtimeClassName = policy.runtimeClassName;
    rec.note(undefined, `runtimeClassName=${policy.runtimeClassName}`);
  }
}

function policyDenial(pod: Pod, slots: Slot[]): MutateDecision | undefined {
  const privileged = slots.find((slot) => slot.container.securityContext?.privileged === true);
  if (privileged) {
    const message = `${privileged.path} (${privileged.container.name}) is privileged: it would see every GPU on the node, so no GPU limit could hold; drop privileged`;
    return { kind: "deny", code: 403, reason: Reason.PrivilegedContainer, message };
  }
  const nodeName = pod.spec.nodeName;
  if (nodeName !== undefined && nodeName !== "") {
    const message = `spec.nodeName=${JSON.stringify(nodeName)}: a GPU pod must be placed by the scheduler so its devices are reserved; remove spec.nodeName (use a nodeSelector instead)`;
    return { kind: "deny", code: 403, reason: Reason.NodeNameSet, message };
  }
  return undefined;
}

function skipReason(pod: Pod, policy: MutatePolicy): MutateDecision | undefined {
  if (pod.metadata?.labels?.[IGNORE_LABEL] === IGNORE_VALUE) {
    return {
      kind: "skip",
      reason: SkipReason.IgnoreLabel,
      message: `label ${IGNORE_LABEL}=${IGNORE_VALUE}`,
    };
  }
  // HAMi's webhook rule: a pod on another scheduler is left alone; default-scheduler is taken over
  // only with forceOverwriteDefaultScheduler.
  const scheduler = pod.spec.schedulerName;
  if (scheduler === undefined || scheduler === "" || scheduler === policy.schedulerName)
    return undefined;
  if (scheduler === DEFAULT_SCHEDULER && policy.forceOverwriteDefaultScheduler) return undefined;
  return {
    kind: "skip",
    reason: SkipReason.OtherScheduler,
    message:
      scheduler === DEFAULT_SCHEDULER
        ? `schedulerName ${DEFAULT_SCHEDULER} kept (forceOverwriteDefaultScheduler is false)`
        : `schedulerName ${scheduler} chosen by the user`,
  };
}

function decide(input: Pod, policy: MutatePolicy): MutateDecision {
  const pod = copyForMutation(input);
  const skip = skipReason(pod, policy);
  if (skip) return skip;
  const slots = slotsOf(pod, policy);
  const rec = new Recorder();
  if (!slots.some((slot) => asksForGPU(slot.request))) return hideGPUs(pod, slots, policy, rec);
  readPodPreferences(pod.metadata?.annotations, rec.warnings);
  const denial = policyDenial(pod, slots);
  if (denial) return denial;
  for (const slot of slots) {
    if (asksForGPU(slot.request)) {
      completeGPUContainer(slot, policy, rec);
    } else if (policy.overwriteEnv && setEnv(slot.container, "NVIDIA_VISIBLE_DEVICES", "none")) {
      rec.note(
        slot.container.name,
        "env NVIDIA_VISIBLE_DEVICES=none (overwriteEnv, no GPU request)",
      );
    }
  }
  completeScheduling(pod, policy, rec);
  return recorded(pod, rec);
}

function recorded(pod: Pod, rec: Recorder): MutateDecision {
  if (rec.changes.length > 0) {
    const metadata = (pod.metadata ??= {});
    (metadata.annotations ??= {})[CHANGES_ANNOTATION] = rec.changes.join("; ");
  }
  return { kind: "mutate", pod, changes: rec.changes, warnings: rec.warnings };
}

/** A pod without GPU requests: untouched, or with overwriteEnv every container is told it has no
 * GPU (HAMi sets NVIDIA_VISIBLE_DEVICES=none so the runtime exposes none). */
function hideGPUs(pod: Pod, slots: Slot[], policy: MutatePolicy, rec: Recorder): MutateDecision {
  if (!policy.overwriteEnv)
    return {
      kind: "skip",
      reason: SkipReason.NoGPURequest,
      message: "no container asks for GPU resources",
    };
  for (const slot of slots)
    if (setEnv(slot.container, "NVIDIA_VISIBLE_DEVICES", "none"))
      rec.note(
        slot.container.name,
        "env NVIDIA_VISIBLE_DEVICES=none (overwriteEnv, no GPU request)",
      );
  return recorded(pod, rec);
}

/** Decides what the webhook does with a pod being created. Never throws: bad input is a denial. */
export function mutatePod(pod: Pod, policy: MutatePolicy): MutateDecision {
  try {
    return decide(pod, policy);
  } catch (error) {
    if (error instanceof HamiError) {
      return { kind: "deny", code: 400, reason: error.reason, message: error.message };
    }
    throw error;
  }
}
