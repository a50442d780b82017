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
} as const;

export type Reason = (typeof Reason)[keyof typeof Reason];

export const SkipReason = {
  IgnoreLabel: "IgnoreLabel",
  NoGPURequest: "NoGPURequest",
  OtherScheduler: "OtherScheduler",
  NotPodCreate: "NotPodCreate",
} as const;

export type SkipReason = (typeof SkipReason)[keyof typeof SkipReason];
