export {
  CLUSTER_BIN,
  controlPlaneMissing,
  kubectl,
  launch,
  startControlPlane,
  stopProcess,
} from "./control-plane.js";
export type { ControlPlane } from "./control-plane.js";
export { SCHEDULER_NAME, schedulerConfig, startScheduler } from "./kube-scheduler.js";
export type { RunningScheduler } from "./kube-scheduler.js";
export { freePort, waitFor } from "./net.js";
export { startNats } from "./nats-server.js";
export type { NatsServer, StartOptions as NatsStartOptions } from "./nats-server.js";
export { SimulatedDeviceManager } from "./simulated-device-manager.js";
export type { ResourceCounts } from "./simulated-device-manager.js";
export { ALLOCATE_ANNOTATION_PREFIX, SimulatedKubelet } from "./simulated-kubelet.js";
export { installSimulatedHamiCore } from "./simulated-hami-core.js";
export { realNodeMissing, startRealNode } from "./real-node.js";
export type { RealNode, RealNodeOptions } from "./real-node.js";
export type { SimulatedKubeletOptions } from "./simulated-kubelet.js";
export {
  applyExamples,
  forRealNode,
  formatReport,
  loggedEnvs,
  parseEnvLines,
  reportPods,
  waitPlaced,
} from "./examples.js";
export type { PodReport } from "./examples.js";
export {
  DEFAULT_NODES,
  ensurePrerequisites,
  LocalError,
  registerWebhook,
  SIMULATED_TAINT,
  startLocal,
} from "./up.js";
export type { LocalCluster, LocalNode, LocalOptions } from "./up.js";
