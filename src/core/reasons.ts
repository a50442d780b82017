// Reason codes shared by every decision. Names follow HAMi's vocabulary where it has one, so
// operators can grep the same words in HAMi docs, pod events and our logs.

export const Reason = {
  InvalidQuantity: "InvalidQuantity",
  InvalidGPUCount: "InvalidGPUCount",
  GPUCountTooLarge: "GPUCountTooLarge",
  InvalidGPUMemory: "InvalidGPUMemory",
  InvalidGPUMemoryPercentage: "InvalidGPUMemoryPercentage",
  InvalidGPUCores: "InvalidGPUCores",
  InvalidPriority: "InvalidPriority",
  RequestLimitMismatch: "RequestLimitMismatch",
  InvalidAnnotation: "InvalidAnnotation",
  PrivilegedContainer: "PrivilegedContainer",
  NodeNameSet: "NodeNameSet",
  UnsupportedRequest: "UnsupportedRequest",
  ResourceQuotaExceeded: "ResourceQuotaExceeded",
} as const;

export type Reason = (typeof Reason)[keyof typeof Reason];

/** Why a device or node cannot hold a request: HAMi's words (pkg/device/common), so pod events read
 * the same as under HAMi. */
export const FitReason = {
  CardNotHealthy: "CardNotHealthy",
  /** The node's hami.io/device-cordon lists it: no new pods (HAMi's reason). */
  CardCordoned: "CardCordoned",
  CardTypeMismatch: "CardTypeMismatch",
  CardUuidMismatch: "CardUuidMismatch",
  CardTimeSlicingExhausted: "CardTimeSlicingExhausted",
  CardComputeUnitsExhausted: "CardComputeUnitsExhausted",
  ExclusiveDeviceAllocateConflict: "ExclusiveDeviceAllocateConflict",
  CardInsufficientMemory: "CardInsufficientMemory",
  CardInsufficientCore: "CardInsufficientCore",
  /** A GPU in mode "mig" has no free instance placement of a profile that holds the request. */
  CardMigTopologyInfeasible: "CardMigTopologyInfeasible",
  NumaNotFit: "NumaNotFit",
  NodeInsufficientDevice: "NodeInsufficientDevice",
  NodeUnfitPod: "NodeUnfitPod",
  NodeNoDevices: "NodeNoDevices",
  NodeUnavailable: "NodeUnavailable",
  ResourceQuotaNotFit: "ResourceQuotaNotFit",
} as const;

export type FitReason = (typeof FitReason)[keyof typeof FitReason];

export const SkipReason = {
  IgnoreLabel: "IgnoreLabel",
  NoGPURequest: "NoGPURequest",
  OtherScheduler: "OtherScheduler",
  NotPodCreate: "NotPodCreate",
} as const;

export type SkipReason = (typeof SkipReason)[keyof typeof SkipReason];
