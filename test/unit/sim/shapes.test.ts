import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseTasks, traceShape } from "../../../src/sim/index.js";

const CSV = `name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec
cpu,4000,8192,0,0,
share,6000,12288,1,460,
whole,12000,16384,1,1000,
multi,32000,65536,4,1000,
`;

describe("placement benchmark - trace shapes", () => {
  const tasks = parseTasks(CSV, "test.csv");
  const names = (shape: Parameters<typeof traceShape>[1]) =>
    traceShape(tasks, shape).map((t) => t.name);

  it("default keeps every task; sharing keeps CPU-only and one-GPU-share tasks", () => {
    assert.deepEqual(names("default"), ["cpu", "share", "whole", "multi"]);
    assert.deepEqual(names("sharing"), ["cpu", "share"]);
  });

  it("whole-gpu keeps CPU-only tasks and tasks asking whole GPUs", () => {
    assert.deepEqual(names("whole-gpu"), ["cpu", "whole", "multi"]);
  });
});
