// The control-plane harness lives in src/local (the local mode runs it too).
export {
  CLUSTER_BIN,
  controlPlaneMissing,
  kubectl,
  launch,
  startControlPlane,
  stopProcess,
  type ControlPlane,
} from "../../src/local/index.js";
