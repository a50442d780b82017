export { createSchedulerApp } from "./app.js";
export type { SchedulerAppDeps, SchedulerRoutes } from "./app.js";
export { bind, COMPONENT } from "./binder.js";
export type { BinderDeps } from "./binder.js";
export { explainPod, filter, podDemand, prioritize } from "./extender.js";
export type { ExtenderDeps, PodDemand, SchedulerPolicy } from "./extender.js";
export { decodeBindingArgs, decodeExtenderArgs, ProtocolError } from "./protocol.js";
export type {
  BindingArgs,
  ExtenderArgs,
  ExtenderBindingResult,
  ExtenderFilterResult,
  HostPriority,
} from "./protocol.js";
export { RELEASED_ANNOTATION, requeueOnRelease } from "./requeue.js";
export type { Requeue } from "./requeue.js";
export { podEventRecorder } from "./pod-events.js";
export { deviceStats, feedView } from "./service.js";
export type { ViewFeed } from "./service.js";
export { ClusterView } from "./view.js";
export type { Holding, ViewOptions } from "./view.js";
export { clusterStatus, UI_PAGE, uiState } from "./ui.js";
export type { UiDevice, UiPod, UiSources, UiState, UiSummary } from "./ui.js";
export { LiveUsage, RecentEvents, USAGE_STALE_MS } from "./live.js";
export { MAX_PENDING, PendingPods } from "./pending.js";
export { ArrivalWorkload, WORKLOAD_HALF_LIFE_MS } from "./workload.js";
