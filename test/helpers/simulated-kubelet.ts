// The SIMULATED kubelet lives in src/local (the local mode runs it too).
export {
  ALLOCATE_ANNOTATION_PREFIX,
  installSimulatedHamiCore,
  SimulatedKubelet,
} from "../../src/local/index.js";
