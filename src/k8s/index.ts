// Public surface of k8s: client construction and API error helpers.

export {
  ConflictError,
  isStatus,
  MERGE_PATCH,
  K8sConfigError,
  KeepAliveKubeConfig,
  loadKubeConfig,
  retryOnConflict,
} from "./client.js";
export { startInformer } from "./informer.js";
export type { InformerHandlers, InformerOptions, RunningInformer } from "./informer.js";
export { containersInDeviceOrder, podApi } from "./pods.js";
export { EVENT_QUEUE_CAPACITY, EventQueue, EventQueueFull } from "./event-queue.js";
export type { PodApi, PodEvent } from "./pods.js";
export { startLeaderElection } from "./leader.js";
export type { LeaderElection, LeaderElectionOptions } from "./leader.js";
