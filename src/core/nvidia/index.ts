// NVIDIA, the first vendor: HAMi-core sharing and MIG instances (HAMi's nvidia device).

import type { Vendor } from "../vendor.js";
import { containerResponse } from "./allocate.js";
import { capacityReason, NVIDIA, plainDevice, rowReason, slice } from "./fit.js";

export const nvidia: Vendor = {
  word: NVIDIA,
  capacityReason,
  slice,
  rows: { plain: plainDevice, reason: rowReason },
  containerResponse,
};

export { containerResponse } from "./allocate.js";
export { NVIDIA } from "./fit.js";
export { decodePairScores, encodePairScores, linkScore } from "./topology.js";
export {
  attachMigSlices,
  decodeMigAllocations,
  encodeMigAllocations,
  MIG_ALLOCATIONS,
  MIG_MODE,
  migChoice,
  migFree,
  migSliceText,
  placementsOverlap,
  plannedDevices,
  withMigSlices,
} from "./mig.js";
export type { MigAllocation } from "./mig.js";
