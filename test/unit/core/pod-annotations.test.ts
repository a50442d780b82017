import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HamiError, readPodPreferences } from "../../../src/core/index.js";

describe("pod annotations - preferences", () => {
  it("parses every annotation, trimming list entries", () => {
    const preferences = readPodPreferences({
      "nvidia.com/use-gputype": "A100, H100",
      "nvidia.com/nouse-gputype": "T4",
      "nvidia.com/use-gpuuuid": "GPU-1",
      "nvidia.com/nouse-gpuuuid": "GPU-2,GPU-3",
      "hami.io/node-scheduler-policy": "spread",
      "hami.io/gpu-scheduler-policy": "binpack",
      "nvidia.com/numa-bind": "FALSE",
      unrelated: "x",
    });
    assert.deepEqual(preferences, {
      useGPUType: ["A100", "H100"],
      nouseGPUType: ["T4"],
      useGPUUUID: ["GPU-1"],
      nouseGPUUUID: ["GPU-2", "GPU-3"],
      nodeSchedulerPolicy: "spread",
      gpuSchedulerPolicy: "binpack",
      numaBind: false,
    });
  });

  it("absent annotations give an empty preference set", () => {
    assert.deepEqual(
      Object.values(readPodPreferences(undefined)).filter((v) => v !== undefined),
      [],
    );
  });

  it("a malformed value throws a HamiError naming the annotation and value", () => {
    assert.throws(
      () => readPodPreferences({ "nvidia.com/use-gputype": "A100,-x" }),
      (error: unknown) =>
        error instanceof HamiError &&
        error.reason === "InvalidAnnotation" &&
        error.field === "metadata.annotations[nvidia.com/use-gputype]" &&
        error.value === "A100,-x",
    );
  });
});
