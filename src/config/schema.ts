// The configuration schema: the `nvidia:` section of HAMi's `hami-scheduler-device` ConfigMap
// (same field names and defaults) plus our `scheduler:` section. Every field has its default here
// and nowhere else.

import { z } from "zod";
import { GPUCorePolicies, NodeSchedulerPolicies, SchedulerPolicies } from "../core/index.js";

const resourceName = z
  .string()
  .regex(/^[a-z0-9.-]+\/[A-Za-z0-9._-]+$/, "must be a qualified resource name like nvidia.com/gpu");

const booleanString = z
  .union([z.boolean(), z.enum(["true", "false"])])
  .transform((value) => value === true || value === "true");

/** Which MIG profiles are offered per GPU model: the first entry whose models a GPU's type contains
 * applies (HAMi's migProfileAllowlist, pkg/device/nvidia/mig_profiles.go ValidateMigProfileAllowlist:
 * both lists non-empty, each profile "<N>g.<memory>"). */
const migProfileAllowlist = z.array(
  z.looseObject({
    models: z.array(z.string().min(1).max(128)).min(1).max(64),
    profiles: z
      .array(z.string().regex(/^\d+g\.\S+$/, 'must be a MIG profile like "1g.10gb"'))
      .min(1)
      .max(64),
  }),
);

const migGeometry = z.object({
  name: z.string().min(1),
  memory: z.number().int().positive(),
  count: z.number().int().positive(),
});

const knownMigGeometry = z.object({
  models: z.array(z.string().min(1)).min(1),
  allowedGeometries: z.array(z.array(migGeometry)),
});

export const nvidiaSchema = z.looseObject({
  resourceCountName: resourceName.default("nvidia.com/gpu"),
  resourceMemoryName: resourceName.default("nvidia.com/gpumem"),
  resourceMemoryPercentageName: resourceName.default("nvidia.com/gpumem-percentage"),
  resourceCoreName: resourceName.default("nvidia.com/gpucores"),
  resourcePriorityName: resourceName.default("nvidia.com/priority"),
  overwriteEnv: z.boolean().default(false),
  /** MiB per GPU for a container that gives none; 0 = the whole GPU (100%). */
  defaultMemory: z.number().int().min(0).default(0),
  defaultCores: z.number().int().min(0).max(100).default(0),
  defaultGPUNum: z.number().int().min(1).default(1),
  /** gpumem is counted in units of this many MiB; HAMi treats values below 1 as 1. */
  memoryFactor: z
    .number()
    .int()
    .min(0)
    .max(1024 * 1024)
    .default(1)
    .transform((factor) => Math.max(1, factor)),
  deviceSplitCount: z.number().int().min(1).max(1000).default(10),
  deviceMemoryScaling: z.number().min(0.1).max(100).default(1),
  deviceCoreScaling: z.number().min(0.1).max(100).default(1),
  migstrategy: z.enum(["none", "mixed"]).default("none"),
  /** HAMi's key is disableCoreLimit; the loader maps it here (see CONFIG_ALIASES). */
  disablecorelimit: booleanString.default(false),
  /** Accepted from HAMi's ConfigMap, not applied (see ignoredSettings). */
  preConfiguredDeviceMemory: z.number().int().min(0).default(0),
  enableNumaTopology: booleanString.default(false),
  migProfileAllowlist: migProfileAllowlist.nullable().default([]),
  knownMigGeometries: z.array(knownMigGeometry).default([]),
  gpuCorePolicy: z.enum(GPUCorePolicies).default("default"),
  /** "" (HAMi's chart default) means unset. */
  runtimeClassName: z
    .string()
    .optional()
    .transform((name) => (name === "" ? undefined : name)),
  /** HAMi's LibCudaLogLevel is a string ("0".."4"); its chart renders a number. */
  libCudaLogLevel: z.coerce.number().int().min(0).max(4).optional(),
  hookPath: z.string().startsWith("/").default("/usr/local"),
});

export const schedulerSchema = z.strictObject({
  schedulerName: z.string().min(1).default("hami-scheduler"),
  defaultSchedulerPolicy: z
    .strictObject({
      nodeSchedulerPolicy: z.enum(NodeSchedulerPolicies).default("binpack"),
      gpuSchedulerPolicy: z.enum(SchedulerPolicies).default("spread"),
    })
    .prefault({}),
  forceOverwriteDefaultScheduler: z.boolean().default(true),
  /** The most GPUs one container may ask for; larger counts are denied at admission. */
  maxGPUCount: z.number().int().min(1).max(1024).default(16),
});

export const configSchema = z.looseObject({
  nvidia: nvidiaSchema.prefault({}),
  scheduler: schedulerSchema.prefault({}),
});

export type NvidiaConfig = z.infer<typeof nvidiaSchema>;
export type SchedulerConfig = z.infer<typeof schedulerSchema>;
export type Config = z.infer<typeof configSchema>;
