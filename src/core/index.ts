// Public surface of core: pure decisions and the plain data types they work on.

export { admit } from "./admission.js";
export type {
  QuotaLookup,
  AdmissionOutcome,
  AdmissionRequest,
  AdmissionResponse,
  AdmissionStatus,
  GroupVersionKind,
} from "./admission.js";
export { asksForGPU, readContainerRequest } from "./container-request.js";
export { capText, HamiError, preview } from "./errors.js";
export {
  CHANGES_ANNOTATION,
  DEFAULT_SCHEDULER,
  GPUCorePolicies,
  IGNORE_LABEL,
  IGNORE_VALUE,
  mutatePod,
} from "./mutate.js";
export type { GPUCorePolicy, MutateDecision, MutatePolicy } from "./mutate.js";
export {
  DEFAULT_GPU_POLICY,
  describeGPUPolicy,
  GPUPolicyWords,
  NodeSchedulerPolicies,
  parseGPUPolicy,
  readPodPreferences,
  SchedulerPolicies,
  UserAnnotation,
} from "./pod-annotations.js";
export type {
  GPUPolicy,
  NodeSchedulerPolicy,
  PodPreferences,
  SchedulerPolicy,
} from "./pod-annotations.js";
export { parseQuantity } from "./quantity.js";
export { podSchema } from "./pod-schema.js";
export { DNS_LABEL_PATTERN, POD_UID_PATTERN } from "./names.js";
export { FitReason, Reason, SkipReason } from "./reasons.js";
export type {
  Container,
  ContainerGPURequest,
  EnvVar,
  ObjectMeta,
  Pod,
  PodSpec,
  ResourceList,
  ResourceNames,
} from "./types.js";
export {
  AGENT_LEASE_PREFIX,
  allocationRecord,
  Annotation,
  BindPhase,
  decodeNodeDevices,
  decodePodDevices,
  encodeNodeDevices,
  parseDeviceCordon,
  withDeviceCordon,
  encodePodDevices,
  HAMI_CORE_MODE,
  parseGoBool,
} from "./codec.js";
export { NO_USAGE, podUsage, usageOnDevices } from "./device.js";
export type {
  ContainerDevice,
  Device,
  DeviceUsage,
  HostFree,
  MigPlacement,
  MigProfile,
  MigSlice,
  PodDevices,
} from "./device.js";
export {
  attachMigSlices,
  containerResponse,
  decodeMigAllocations,
  decodePairScores,
  encodePairScores,
  linkScore,
  encodeMigAllocations,
  MIG_ALLOCATIONS,
  MIG_MODE,
  migChoice,
  migFree,
  migSliceText,
  NVIDIA,
  nvidia,
  placementsOverlap,
  plannedDevices,
  withMigSlices,
} from "./nvidia/index.js";
export type { MigAllocation } from "./nvidia/index.js";
export type { Vendor } from "./vendor.js";
export { deviceLoad, deviceReason, fitPod } from "./fit.js";
export type { FitOptions, FitResult, NodeState } from "./fit.js";
export {
  compareVerdicts,
  evaluateNode,
  evaluateNodes,
  rankNode,
  rowPlanFor,
  scorerFor,
} from "./placement.js";
export { DeviceTable, judgeRow, rowPlan } from "./device-table.js";
export type { RowPlan } from "./device-table.js";
export type {
  NodeCandidate,
  NodeOutcome,
  NodeVerdict,
  PlacementPolicy,
  QuotaCheck,
} from "./placement.js";
export { asksForDevices, memoryRequest, podRequest } from "./pod-request.js";
export type { ContainerSlot, DeviceRequest, PodRequest, RequestDefaults } from "./pod-request.js";
export { extenderPriority, nodeLoad, nodeScorers, round2 } from "./score.js";
export type { NodeScore, NodeScorer, ScoreInput } from "./score.js";
export {
  awaitingCounts,
  cacheDirProblem,
  confusable,
  containerCacheDir,
  controlDisabled,
  envDisablesControl,
  matchAllocate,
  nextContainer,
  VGPU_LOCK_DIR,
} from "./allocate.js";
export type {
  AllocateMatch,
  AllocatePolicy,
  ContainerIdentity,
  ContainerResponse,
  Mount,
  PendingPod,
} from "./allocate.js";
export { fgdScorer, freeShare, nodeFragmentation } from "./fragmentation.js";
export type { TaskClass } from "./fragmentation.js";
export {
  podQuotaUsage,
  quotaExceeded,
  quotaResourceNames,
  quotaUsage,
  requestQuotaUsage,
} from "./quota.js";
export type { NamespaceQuota, QuotaAmount, QuotaNames } from "./quota.js";
export { leaseStep } from "./leader.js";
export type { LeaseRecord, LeaseStep, LeaseView } from "./leader.js";
export { checkServed } from "./allocation-check.js";
export type { AllocationVerdict, Holder, ListedPod, ServedContainer } from "./allocation-check.js";
export {
  encodeSharedRegion,
  readSharedRegion,
  SHARED_REGION_BYTES,
  SHARED_REGION_MAGIC,
} from "./shared-region.js";
export type { RegionDevice, RegionProcess, RegionRead, SharedRegion } from "./shared-region.js";
export { DEFAULT_DRIFT, nodeUsage, UUID_LABEL_CHARS, watchDrift } from "./monitor.js";
export type {
  ContainerRegion,
  ContainerUsage,
  DriftAlert,
  DriftPolicy,
  DriftState,
  GpuUsage,
  HostGpuUsage,
  NodeUsage,
  PodOnNode,
  UsageInput,
  VDeviceUsage,
} from "./monitor.js";
export { clusterSummary, pendingReason } from "./summary.js";
export type { ClusterStatus, ClusterSummary } from "./summary.js";
export { topologyChoice } from "./topology.js";
export type { PairScores } from "./topology.js";
