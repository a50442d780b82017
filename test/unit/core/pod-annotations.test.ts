import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readPodPreferences } from "../../../src/core/index.js";

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
      "nvidia.com/vgpu-mode": "mig",
      unrelated: "x",
    });
    assert.deepEqual(preferences, {
      useGPUType: ["A100", "H100"],
      nouseGPUType: ["T4"],
      useGPUUUID: ["GPU-1"],
      nouseGPUUUID: ["GPU-2", "GPU-3"],
      nodeSchedulerPolicy: "spread",
      gpuSchedulerPolicy: { order: "binpack", numa: false, mutex: false },
      numaBind: false,
      vgpuMode: "mig",
    });
  });

  it("absent annotations give an empty preference set", () => {
    assert.deepEqual(
      Object.values(readPodPreferences(undefined)).filter((v) => v !== undefined),
      [],
    );
  });

  it("empty values and empty list items are no constraint, as in HAMi's CheckUUID/CheckType", () => {
    const warnings: string[] = [];
    const preferences = readPodPreferences(
      {
        "nvidia.com/use-gputype": "",
        "nvidia.com/nouse-gputype": " , ",
        "nvidia.com/use-gpuuuid": "GPU-1,,",
        "hami.io/gpu-scheduler-policy": "",
        "hami.io/node-scheduler-policy": " ",
      },
      warnings,
    );
    assert.equal(preferences.useGPUType, undefined);
    assert.equal(preferences.nouseGPUType, undefined);
    assert.deepEqual(preferences.useGPUUUID, ["GPU-1"]);
    assert.equal(preferences.gpuSchedulerPolicy, undefined);
    assert.equal(preferences.nodeSchedulerPolicy, undefined);
    assert.deepEqual(warnings, []);
  });

  it("HAMi's gpu policy chains: order word, numa and mutex; the config order when none", () => {
    const base = { order: "binpack" as const, numa: false, mutex: false };
    const read = (value: string) =>
      readPodPreferences({ "hami.io/gpu-scheduler-policy": value }, [], base).gpuSchedulerPolicy;
    assert.deepEqual(read("spread,numa"), { order: "spread", numa: true, mutex: false });
    assert.deepEqual(read("numa"), { order: "binpack", numa: true, mutex: false });
    assert.deepEqual(read("mutex"), { order: "binpack", numa: false, mutex: true });
    assert.deepEqual(read("topology-aware"), {
      order: "binpack",
      numa: false,
      mutex: false,
      topology: true,
    });
  });

  it("numa-bind is a Go bool; anything else is false with a warning", () => {
    for (const value of ["1", "t", "T", "TRUE", "true", "True"])
      assert.equal(readPodPreferences({ "nvidia.com/numa-bind": value }).numaBind, true, value);
    const warnings: string[] = [];
    assert.equal(readPodPreferences({ "nvidia.com/numa-bind": "yes" }, warnings).numaBind, false);
    assert.match(warnings[0] ?? "", /not a boolean/);
  });

  it("a huge value is cut in the warning, with its size", () => {
    const warnings: string[] = [];
    readPodPreferences({ "hami.io/node-scheduler-policy": "x".repeat(100_000) }, warnings);
    assert.ok((warnings[0]?.length ?? 0) < 300, warnings[0]);
    assert.match(warnings[0] ?? "", /100000 bytes/);
  });
});
