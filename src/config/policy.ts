// Maps validated configuration onto the input types of core decisions, so core never sees the
// config's shape.

import {
  nvidia,
  type MutatePolicy,
  type PlacementPolicy,
  type ResourceNames,
} from "../core/index.js";
import type { Config } from "./schema.js";

export function resourceNames(config: Config): ResourceNames {
  const nvidia = config.nvidia;
  return {
    count: nvidia.resourceCountName,
    memory: nvidia.resourceMemoryName,
    memoryPercentage: nvidia.resourceMemoryPercentageName,
    cores: nvidia.resourceCoreName,
    priority: nvidia.resourcePriorityName,
  };
}

export function mutatePolicy(config: Config): MutatePolicy {
  const { nvidia, scheduler } = config;
  return {
    resourceNames: resourceNames(config),
    defaultMemory: nvidia.defaultMemory,
    defaultCores: nvidia.defaultCores,
    defaultGPUNum: nvidia.defaultGPUNum,
    memoryFactor: nvidia.memoryFactor,
    maxGPUCount: scheduler.maxGPUCount,
    schedulerName: scheduler.schedulerName,
    forceOverwriteDefaultScheduler: scheduler.forceOverwriteDefaultScheduler,
    overwriteEnv: nvidia.overwriteEnv,
    gpuCorePolicy: nvidia.gpuCorePolicy,
    runtimeClassName: nvidia.runtimeClassName,
  };
}

/** The placement defaults the extender applies when a pod's annotations do not override them. */
export function placementPolicy(config: Config): PlacementPolicy {
  const { scheduler } = config;
  return {
    nodePolicy: scheduler.defaultSchedulerPolicy.nodeSchedulerPolicy,
    gpuPolicy: {
      order: scheduler.defaultSchedulerPolicy.gpuSchedulerPolicy,
      numa: false,
      mutex: false,
    },
    vendor: nvidia,
  };
}
