// Annotations users write on pods (HAMi's names) and their validation. Parsed here once so the
// webhook rejects malformed values at admission and the scheduler can trust what it reads.

import { HamiError } from "./errors.js";
import { Reason } from "./reasons.js";

export const UserAnnotation = {
  useGPUType: "nvidia.com/use-gputype",
  nouseGPUType: "nvidia.com/nouse-gputype",
  useGPUUUID: "nvidia.com/use-gpuuuid",
  nouseGPUUUID: "nvidia.com/nouse-gpuuuid",
  nodeSchedulerPolicy: "hami.io/node-scheduler-policy",
  gpuSchedulerPolicy: "hami.io/gpu-scheduler-policy",
  numaBind: "nvidia.com/numa-bind",
} as const;

/** How devices are chosen within a node. */
export const SchedulerPolicies = ["binpack", "spread"] as const;
export type SchedulerPolicy = (typeof SchedulerPolicies)[number];

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
  gpuSchedulerPolicy?: SchedulerPolicy;
  numaBind?: boolean;
}

const TYPE_TOKEN = /^[A-Za-z0-9][A-Za-z0-9 ._-]*$/;
const UUID_TOKEN = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

function field(key: string): string {
  return `metadata.annotations[${key}]`;
}

function parseList(key: string, raw: string, token: RegExp): string[] {
  const items = raw.split(",").map((item) => item.trim());
  for (const item of items) {
    if (!token.test(item)) {
      const what = item === "" ? "an empty entry" : `entry ${JSON.stringify(item)}`;
      throw new HamiError(Reason.InvalidAnnotation, field(key), raw, `comma list has ${what}`);
    }
  }
  return items;
}

function parsePolicy<P extends string>(key: string, raw: string, allowed: readonly P[]): P {
  const found = allowed.find((policy) => policy === raw.trim());
  if (!found) {
    throw new HamiError(
      Reason.InvalidAnnotation,
      field(key),
      raw,
      `must be one of ${allowed.join(", ")}`,
    );
  }
  return found;
}

function parseBool(key: string, raw: string): boolean {
  const value = raw.trim().toLowerCase();
  if (value === "true") return true;
  if (value === "false") return false;
  throw new HamiError(Reason.InvalidAnnotation, field(key), raw, "must be true or false");
}

/** Parses and validates every hami annotation present; throws HamiError on the first bad one. */
export function readPodPreferences(
  annotations: Record<string, string> | undefined,
): PodPreferences {
  const get = (key: string): string | undefined => annotations?.[key];
  const list = (key: string, token: RegExp) => {
    const raw = get(key);
    return raw === undefined ? undefined : parseList(key, raw, token);
  };
  const policy = <P extends string>(key: string, allowed: readonly P[]) => {
    const raw = get(key);
    return raw === undefined ? undefined : parsePolicy(key, raw, allowed);
  };
  const numa = get(UserAnnotation.numaBind);
  return {
    useGPUType: list(UserAnnotation.useGPUType, TYPE_TOKEN),
    nouseGPUType: list(UserAnnotation.nouseGPUType, TYPE_TOKEN),
    useGPUUUID: list(UserAnnotation.useGPUUUID, UUID_TOKEN),
    nouseGPUUUID: list(UserAnnotation.nouseGPUUUID, UUID_TOKEN),
    nodeSchedulerPolicy: policy(UserAnnotation.nodeSchedulerPolicy, NodeSchedulerPolicies),
    gpuSchedulerPolicy: policy(UserAnnotation.gpuSchedulerPolicy, SchedulerPolicies),
    numaBind: numa === undefined ? undefined : parseBool(UserAnnotation.numaBind, numa),
  };
}
