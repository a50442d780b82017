import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  nodeUsage,
  watchDrift,
  type ContainerRegion,
  type DriftState,
  type UsageInput,
} from "../../../src/core/index.js";

const MiB = 1024 * 1024;
const UID_A = "0b7e6a52-5a43-4c1e-9a4e-3a1f4c7d0001";
const UID_B = "0b7e6a52-5a43-4c1e-9a4e-3a1f4c7d0002";
const UID_GONE = "0b7e6a52-5a43-4c1e-9a4e-3a1f4c7d0009";

function region(
  podUID: string,
  container: string,
  devices: { uuid: string; used: number; limit: number; sm: number }[],
  lastKernelTime = 0,
): ContainerRegion {
  return {
    podUID,
    container,
    region: {
      version: "1.2",
      devices: devices.map((d) => ({
        uuid: d.uuid,
        limitBytes: d.limit * MiB,
        smLimit: 0,
        usedBytes: d.used * MiB,
        contextBytes: 0,
        moduleBytes: 0,
        bufferBytes: d.used * MiB,
        smUtil: d.sm,
      })),
      processes: [100],
      lastKernelTime,
    },
  };
}

const input: UsageInput = {
  node: "gpu-1",
  now: new Date("2026-11-30T10:00:00Z"),
  gpus: [
    { index: 0, uuid: "GPU-0", type: "NVIDIA-A100" },
    { index: 1, uuid: "GPU-1", type: "NVIDIA-A100" },
  ],
  host: [
    { uuid: "GPU-0", memoryUsedBytes: 5000 * MiB, utilization: 40, temperatureC: 51 },
    { uuid: "GPU-1", utilization: 3 },
  ],
  regions: [
    region(UID_A, "main", [{ uuid: "GPU-0", used: 1000, limit: 2000, sm: 20 }], 1_796_032_790),
    region(UID_B, "train", [
      { uuid: "GPU-0", used: 500, limit: 4000, sm: 10 },
      { uuid: "GPU-1", used: 700, limit: 4000, sm: 1 },
    ]),
    region(UID_GONE, "old", [{ uuid: "GPU-1", used: 9000, limit: 9000, sm: 99 }]),
    region(UID_A, "renamed", [{ uuid: "GPU-1", used: 9000, limit: 9000, sm: 99 }]),
  ],
  pods: new Map([
    [UID_A, { namespace: "ml", name: "infer", containers: ["main"] }],
    [UID_B, { namespace: "ml", name: "trainer", containers: ["setup", "train"] }],
  ]),
};

describe("core - node usage (the monitor's figures)", () => {
  it("per container: its region's devices in order, named by pod; one without its pod or container is an orphan", () => {
    const usage = nodeUsage(input);
    assert.deepEqual(
      usage.containers.map((c) => [
        `${c.namespace}/${c.pod}/${c.container}`,
        c.devices.map((d) => `${d.index}:${d.uuid}:${d.usedBytes / MiB}/${d.limitBytes / MiB}`),
      ]),
      [
        ["ml/infer/main", ["0:GPU-0:1000/2000"]],
        ["ml/trainer/train", ["0:GPU-0:500/4000", "1:GPU-1:700/4000"]],
      ],
    );
    assert.equal(usage.orphans, 2);
    assert.equal(usage.time, "2026-11-30T10:00:00.000Z");
  });

  it("last kernel age in seconds from now; absent when no kernel ever ran", () => {
    const [infer, trainer] = nodeUsage(input).containers;
    assert.equal(infer?.lastKernelAgeSeconds, 1_796_032_800 - 1_796_032_790);
    assert.equal(trainer?.lastKernelAgeSeconds, undefined);
  });

  it("per GPU: the host figures, what the regions track, and the untracked rest", () => {
    const [gpu0, gpu1] = nodeUsage(input).gpus;
    assert.equal(gpu0?.trackedBytes, 1500 * MiB);
    assert.equal(gpu0?.untrackedBytes, 3500 * MiB);
    assert.equal(gpu0?.containers, 2);
    assert.equal(gpu0?.temperatureC, 51);
    // The orphan's 9000 MiB is not tracked; without a host memory figure there is no drift.
    assert.equal(gpu1?.trackedBytes, 700 * MiB);
    assert.equal(gpu1?.untrackedBytes, undefined);
    assert.equal(gpu1?.utilization, 3);
  });

  it("a GPU in MIG mode has no regions to track, so nothing there counts as untracked", () => {
    const usage = nodeUsage({
      ...input,
      gpus: input.gpus.map((g, i) => (i === 0 ? { ...g, mode: "mig" } : g)),
    });
    assert.equal(usage.gpus[0]?.untrackedBytes, undefined);
    assert.equal(usage.gpus[0]?.memoryUsedBytes, 5000 * MiB);
  });

  it("regions reporting more than the host sees: untracked is 0, not negative", () => {
    const usage = nodeUsage({
      ...input,
      host: [{ uuid: "GPU-0", memoryUsedBytes: 100 * MiB }],
    });
    assert.equal(usage.gpus[0]?.untrackedBytes, 0);
  });
});

describe("core - drift watch", () => {
  const policy = { thresholdBytes: 1000 * MiB, holdMs: 60_000 };
  const at = (untrackedMiB: number) =>
    nodeUsage({
      ...input,
      host: [{ uuid: "GPU-0", memoryUsedBytes: (1500 + untrackedMiB) * MiB }],
    });

  it("raised once after staying above the threshold for the hold time, cleared once below", () => {
    let state: DriftState = new Map();
    const kinds: string[] = [];
    const samples: [number, number][] = [
      [0, 2000],
      [30_000, 2000],
      [60_000, 2500], // held 60 s: raised
      [90_000, 2500], // still high: nothing new
      [120_000, 10], // below: cleared
      [150_000, 10],
    ];
    for (const [now, untracked] of samples) {
      const next = watchDrift(state, at(untracked), now, policy);
      state = next.state;
      kinds.push(next.alerts.map((a) => `${a.kind}@${now}:${a.forMs}`).join(",") || "-");
    }
    assert.deepEqual(kinds, ["-", "-", "raised@60000:60000", "-", "cleared@120000:0", "-"]);
  });

  it("a dip below the threshold restarts the hold", () => {
    let state: DriftState = new Map();
    const raised: number[] = [];
    for (const [now, untracked] of [
      [0, 2000],
      [50_000, 10],
      [70_000, 2000],
      [120_000, 2000],
      [130_000, 2000],
    ] as const) {
      const next = watchDrift(state, at(untracked), now, policy);
      state = next.state;
      if (next.alerts.some((a) => a.kind === "raised")) raised.push(now);
    }
    assert.deepEqual(raised, [130_000]);
  });
});
