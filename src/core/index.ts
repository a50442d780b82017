// Public surface of core: pure decisions and the plain data types they work on.

export { admit } from "./admission.js";
export type {
  AdmissionOutcome,
  AdmissionRequest,
  AdmissionResponse,
  AdmissionStatus,
  GroupVersionKind,
} from "./admission.js";
export { asksForGPU, readContainerRequest } from "./container-request.js";
export { HamiError } from "./errors.js";
export {
  CHANGES_ANNOTATION,
  DEFAULT_SCHEDULER,
  GPUCorePolicies,
  IGNORE_LABEL,
  IGNORE_VALUE,
  mutatePod,
} from "./mutate.js";
export type { GPUCorePolicy, MutateDecision, MutatePolicy } from "./mutate.js";
export { readPodPreferences, SchedulerPolicies, UserAnnotation } from "./pod-annotations.js";
export type { PodPreferences, SchedulerPolicy } from "./pod-annotations.js";
export { parseQuantity } from "./quantity.js";
export { Reason, SkipReason } from "./reasons.js";
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
