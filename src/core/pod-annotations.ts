// Annotations users write on pods (HAMi's names) and how they are read. HAMi admits every value, so
// we do too: an empty value or an empty list item is "no constraint", an unknown policy falls back
// with a warning (Project-HAMi/HAMi pkg/device/devices.go CheckUUID/CheckType, pkg/util/util.go
// PolicyContains, pkg/scheduler/policy/gpu_policy.go, pkg/device/nvidia/device.go assertNuma).

import { parseGoBool } from "./codec.js";

/** How devices are chosen on a node (HAMi's gpu-scheduler-policy, a comma chain): binpack fills
 * used devices first, spread prefers idle ones; `numa` keeps a container's devices on the fewest
 * NUMA nodes first; `mutex` gives a container only devices nobody uses. */
export interface GPUPolicy {
  order: "binpack" | "spread";
  numa: boolean;
  mutex: boolean;
  /** topology-aware: on a node publishing GPU pair scores, the best-connected set (topology.ts);
   * elsewhere `order` (binpack, as HAMi falls back). */
  topology?: boolean;
}

export const UserAnnotation = {
  useGPUType: "nvidia.com/use-gputype",
  nouseGPUType: "nvidia.com/nouse-gputype",
  useGPUUUID: "nvidia.com/use-gpuuuid",
  nouseGPUUUID: "nvidia.com/nouse-gpuuuid",
  nodeSchedulerPolicy: "hami.io/node-scheduler-policy",
  gpuSchedulerPolicy: "hami.io/gpu-scheduler-policy",
  numaBind: "nvidia.com/numa-bind",
  /** Which operating modes the pod takes ("mig", "hami-core"; HAMi's AllocateMode: a device whose
   * mode the value does not contain is refused). */
  vgpuMode: "nvidia.com/vgpu-mode",
} as const;

/** How devices are ordered within a node. */
export const SchedulerPolicies = ["binpack", "spread"] as const;
export type SchedulerPolicy = (typeof SchedulerPolicies)[number];

/** Words of HAMi's gpu-scheduler-policy chain. */
export const GPUPolicyWords = ["binpack", "spread", "numa", "mutex", "topology-aware"] as const;

/** How nodes are chosen: HAMi's two, and fgd (fragmentation gradient, see fragmentation.ts). */
export const NodeSchedulerPolicies = ["binpack", "spread", "fgd"] as const;
export type NodeSchedulerPolicy = (typeof NodeSchedulerPolicies)[number];

/** Placement preferences read from a pod's annotations; absent fields mean "not set". */
export interface PodPreferences {
  useGPUType?: string[];
  nouseGPUType?: string[];
  useGPUUUID?: string[];
  nouseGPUUUID?: string[];
  nodeSchedulerPolicy?: NodeSchedulerPolicy;
  gpuSchedulerPolicy?: GPUPolicy;
  numaBind?: boolean;
  /** The raw nvidia.com/vgpu-mode value; a device qualifies when it contains the device's mode. */
  vgpuMode?: string;
}

/** Values longer than this are cut in warnings (an annotation may hold up to 256 KiB). */
const SHOWN = 64;

function shown(raw: string): string {
  return raw.length > SHOWN
    ? `${JSON.stringify(raw.slice(0, SHOWN))}... (${raw.length} bytes)`
    : JSON.stringify(raw);
}

/** A comma list without empty items; undefined (no constraint) when nothing is left. */
function parseList(raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  const items = raw
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
  return items.length === 0 ? undefined : items;
}

/** HAMi's chain of gpu policy words; `base` gives the order when the chain names none. */
export function parseGPUPolicy(raw: string, base: GPUPolicy, warnings: string[]): GPUPolicy {
  const words = raw.split(",").map((word) => word.trim());
  const known = new Set<string>(GPUPolicyWords);
  const unknown = words.filter((word) => word !== "" && !known.has(word));
  if (unknown.length > 0)
    warnings.push(
      `${UserAnnotation.gpuSchedulerPolicy}=${shown(raw)}: ignoring ${unknown.map((w) => shown(w)).join(", ")} (known: ${GPUPolicyWords.join(", ")})`,
    );
  const order = words.find(
    (word) => word === "binpack" || word === "spread" || word === "topology-aware",
  );
  return {
    order: order === undefined ? base.order : order === "spread" ? "spread" : "binpack",
    numa: words.includes("numa"),
    mutex: words.includes("mutex"),
    ...(words.includes("topology-aware") ? { topology: true } : {}),
  };
}

function parseNodePolicy(raw: string, warnings: string[]): NodeSchedulerPolicy {
  const found = NodeSchedulerPolicies.find((policy) => policy === raw.trim());
  if (found !== undefined) return found;
  warnings.push(
    `${UserAnnotation.nodeSchedulerPolicy}=${shown(raw)} is not one of ${NodeSchedulerPolicies.join(", ")}: binpack is used`,
  );
  return "binpack";
}

function parseNumaBind(raw: string, warnings: string[]): boolean {
  const value = parseGoBool(raw.trim());
  if (value !== undefined) return value;
  warnings.push(`${UserAnnotation.numaBind}=${shown(raw)} is not a boolean: no NUMA binding`);
  return false;
}

/** The default device order when a pod names no gpu policy. */
export const DEFAULT_GPU_POLICY: GPUPolicy = { order: "spread", numa: false, mutex: false };

/** Reads every hami annotation present. Never throws: what HAMi would ignore or reinterpret is
 * reinterpreted the same way and explained in `warnings`. */
export function readPodPreferences(
  annotations: Record<string, string> | undefined,
  warnings: string[] = [],
  baseGPUPolicy: GPUPolicy = DEFAULT_GPU_POLICY,
): PodPreferences {
  const get = (key: string): string | undefined => annotations?.[key];
  const node = get(UserAnnotation.nodeSchedulerPolicy);
  const gpu = get(UserAnnotation.gpuSchedulerPolicy);
  const numa = get(UserAnnotation.numaBind);
  const preferences: PodPreferences = {
    useGPUType: parseList(get(UserAnnotation.useGPUType)),
    nouseGPUType: parseList(get(UserAnnotation.nouseGPUType)),
    useGPUUUID: parseList(get(UserAnnotation.useGPUUUID)),
    nouseGPUUUID: parseList(get(UserAnnotation.nouseGPUUUID)),
    nodeSchedulerPolicy:
      node === undefined || node.trim() === "" ? undefined : parseNodePolicy(node, warnings),
    gpuSchedulerPolicy:
      gpu === undefined || gpu.trim() === ""
        ? undefined
        : parseGPUPolicy(gpu, baseGPUPolicy, warnings),
    numaBind: numa === undefined ? undefined : parseNumaBind(numa, warnings),
    vgpuMode: get(UserAnnotation.vgpuMode),
  };
  return preferences;
}

export function describeGPUPolicy(policy: GPUPolicy): string {
  // Once per node verdict: plain concatenation, no arrays.
  const order = policy.topology === true ? `topology-aware,${policy.order}` : policy.order;
  return `${order}${policy.numa ? ",numa" : ""}${policy.mutex ? ",mutex" : ""}`;
}
