// Trace shapes for the placement benchmark: the shipped openb tasks under a documented filter, so a
// policy is judged on more than one workload mix. The FGD paper (Weng et al., ATC '23, section 6)
// varies the share of GPU-sharing and multi-GPU tasks the same way: by drawing from the default
// trace's tasks of each kind in other proportions.

import type { SimTask } from "./trace.js";

export const SHAPES = ["default", "sharing", "whole-gpu"] as const;
export type TraceShape = (typeof SHAPES)[number];

/** What each shape keeps, in words (printed with the results). */
export const SHAPE_FILTERS: Readonly<Record<TraceShape, string>> = {
  default: "every task of the trace",
  sharing:
    "CPU-only tasks and tasks asking a share of one GPU (num_gpu = 1, gpu_milli < 1000): every GPU task shares a GPU",
  "whole-gpu":
    "CPU-only tasks and tasks asking whole GPUs (gpu_milli = 1000, any num_gpu): no GPU task shares",
};

function keeps(shape: TraceShape, task: SimTask): boolean {
  if (shape === "default" || task.gpus === 0) return true;
  const sharing = task.gpus === 1 && task.gpuMilli < 1000;
  return shape === "sharing" ? sharing : !sharing;
}

/** The tasks a shape keeps, in trace order. */
export function traceShape(tasks: readonly SimTask[], shape: TraceShape): SimTask[] {
  return tasks.filter((task) => keeps(shape, task));
}
