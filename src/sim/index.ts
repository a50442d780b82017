export { MODEL_MEMORY_MIB, modelMemory } from "./models.js";
export { allocationChart } from "./plot.js";
export type { Series } from "./plot.js";
export { POLICIES, random, simulate, taskClasses } from "./simulate.js";
export type { SimOptions, SimPolicy, SimResult } from "./simulate.js";
export { parseNodes, parseTasks, taskPod, TraceError, TRACE_SPLIT_COUNT } from "./trace.js";
export type { SimNode, SimTask } from "./trace.js";
export { SHAPE_FILTERS, SHAPES, traceShape } from "./shapes.js";
export type { TraceShape } from "./shapes.js";
