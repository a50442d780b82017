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

export const SchedulerPolicies = ["binpack", "spread"] as const;
export type SchedulerPolicy = (typeof SchedulerPolicies)[number];

/** Placement preferences read from a pod's annotations; absent fields mean "not set". */
export interface PodPreferences {
  useGPUType?: string[];
  nouseGPUType?: string[];
  useGPUUUID?: string[];
  nouseGPUUUID?: string[];
  nodeSchedulerPolicy?: SchedulerPolicy;
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

function parsePolicy(key: string, raw: string): SchedulerPolicy {
  const found = SchedulerPolicies.find((policy) => policy === raw.trim());
  if (!found) {
    throw new HamiError(
      Reason.InvalidAnnotation,
      field(key),
      raw,
      `must be one of ${SchedulerPolicies.join(", ")}`,
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
  const policy = (key: string) => {
    const raw = get(key);
    return raw === undefined ? undefined : parsePolicy(key, raw);
  };
  const numa = get(UserAnnotation.numaBind);
  return {
    useGPUType: list(UserAnnotation.useGPUType, TYPE_TOKEN),
    nouseGPUType: list(UserAnnotation.nouseGPUType, TYPE_TOKEN),
    useGPUUUID: list(UserAnnotation.useGPUUUID, UUID_TOKEN),
    nouseGPUUUID: list(UserAnnotation.nouseGPUUUID, UUID_TOKEN),
    nodeSchedulerPolicy: policy(UserAnnotation.nodeSchedulerPolicy),
    gpuSchedulerPolicy: policy(UserAnnotation.gpuSchedulerPolicy),
    numaBind: numa === undefined ? undefined : parseBool(UserAnnotation.numaBind, numa),
  };
}
