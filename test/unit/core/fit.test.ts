// Device fit tables: each case is a node (devices + usage), a pod, and the expected plan or reason.
// Cases follow the semantics of HAMi's examples folder (default use, MiB, percentage, cores,
// exclusive, type/UUID include/exclude, multi-container) plus scaling, init containers and NUMA.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  fitPod,
  NO_USAGE,
  podRequest,
  type Device,
  type DeviceUsage,
  type FitOptions,
  type GPUPolicy,
  type PodPreferences,
  nvidia,
} from "../../../src/core/index.js";
import { container, pod, policy } from "../../helpers/pods.js";

function gpu(i: number, extra: Partial<Device> = {}): Device {
  return {
    uuid: `GPU-${i}`,
    index: i,
    type: "NVIDIA-A100-SXM4-40GB",
    memoryMiB: 40_000,
    cores: 100,
    splitCount: 4,
    numa: 0,
    mode: "hami-core",
    healthy: true,
    ...extra,
  };
}

interface Case {
  name: string;
  devices: Device[];
  usage?: Record<string, DeviceUsage>;
  containers: Record<string, string>[];
  init?: Record<string, string>[];
  prefs?: PodPreferences;
  gpuPolicy?: Partial<GPUPolicy>;
  /** Per container: "uuid/MiB/cores" joined by "+"; or the refusal reason and a message pattern. */
  expect: string[] | { reason: string; message?: RegExp };
}

const GPU = "nvidia.com/gpu";
const MEM = "nvidia.com/gpumem";
const PCT = "nvidia.com/gpumem-percentage";
const CORES = "nvidia.com/gpucores";

const cases: Case[] = [
  {
    name: "default use: nvidia.com/gpu 1 is a whole, exclusive device",
    devices: [gpu(0), gpu(1)],
    usage: { "GPU-0": { slots: 1, memoryMiB: 1000, cores: 10 } },
    containers: [{ [GPU]: "1" }],
    expect: ["GPU-1/40000/100"],
  },
  {
    name: "MiB request",
    devices: [gpu(0)],
    containers: [{ [GPU]: "1", [MEM]: "3000" }],
    expect: ["GPU-0/3000/0"],
  },
  {
    name: "percentage of the device's memory",
    devices: [gpu(0, { memoryMiB: 16_384 })],
    containers: [{ [GPU]: "1", [PCT]: "50", [CORES]: "30" }],
    expect: ["GPU-0/8192/30"],
  },
  {
    name: "percentage of the registered memory (already x deviceMemoryScaling 2 by the agent)",
    devices: [gpu(0, { memoryMiB: 32_768 })],
    containers: [{ [GPU]: "1", [PCT]: "50" }],
    expect: ["GPU-0/16384/0"],
  },
  {
    name: "oversubscription: 2 x 24000 MiB on a 40000 MiB GPU registered x 1.5",
    devices: [gpu(0, { memoryMiB: 60_000 })],
    usage: { "GPU-0": { slots: 1, memoryMiB: 24_000, cores: 0 } },
    containers: [{ [GPU]: "1", [MEM]: "24000" }],
    expect: ["GPU-0/24000/0"],
  },
  {
    name: "100 cores is exclusive only on a card of 100 cores (deviceCoreScaling 2 -> 200)",
    devices: [gpu(0, { cores: 200 })],
    usage: { "GPU-0": { slots: 1, memoryMiB: 100, cores: 50 } },
    containers: [{ [GPU]: "1", [MEM]: "100", [CORES]: "100" }],
    expect: ["GPU-0/100/100"],
  },
  {
    name: "gpu policy mutex: only devices nobody uses",
    devices: [gpu(0), gpu(1)],
    usage: { "GPU-0": { slots: 1, memoryMiB: 100, cores: 0 } },
    containers: [{ [GPU]: "1", [MEM]: "100" }],
    gpuPolicy: { order: "binpack", mutex: true },
    expect: ["GPU-1/100/0"],
  },
  {
    name: "gpu policy mutex refuses a node whose devices are all in use",
    devices: [gpu(0)],
    usage: { "GPU-0": { slots: 1, memoryMiB: 100, cores: 0 } },
    containers: [{ [GPU]: "1", [MEM]: "100" }],
    gpuPolicy: { mutex: true },
    expect: { reason: "NodeUnfitPod", message: /1 ExclusiveDeviceAllocateConflict/ },
  },
  {
    name: "gpu policy numa: a multi-GPU container lands on one NUMA node when one can hold it",
    devices: [gpu(0, { numa: 0 }), gpu(1, { numa: 1 }), gpu(2, { numa: 1 })],
    usage: { "GPU-0": { slots: 1, memoryMiB: 100, cores: 0 } },
    containers: [{ [GPU]: "2", [MEM]: "100" }],
    gpuPolicy: { order: "binpack", numa: true },
    expect: ["GPU-1/100/0+GPU-2/100/0"],
  },
  {
    name: "without numa, binpack takes the busiest devices across NUMA nodes",
    devices: [gpu(0, { numa: 0 }), gpu(1, { numa: 1 }), gpu(2, { numa: 1 })],
    usage: { "GPU-0": { slots: 1, memoryMiB: 100, cores: 0 } },
    containers: [{ [GPU]: "2", [MEM]: "100" }],
    gpuPolicy: { order: "binpack" },
    expect: ["GPU-0/100/0+GPU-1/100/0"],
  },
  {
    name: "memory short without scaling",
    devices: [gpu(0)],
    usage: { "GPU-0": { slots: 1, memoryMiB: 24_000, cores: 0 } },
    containers: [{ [GPU]: "1", [MEM]: "24000" }],
    expect: { reason: "NodeUnfitPod", message: /1 CardInsufficientMemory/ },
  },
  {
    name: "cores short",
    devices: [gpu(0)],
    usage: { "GPU-0": { slots: 1, memoryMiB: 0, cores: 80 } },
    containers: [{ [GPU]: "1", [MEM]: "10", [CORES]: "30" }],
    expect: { reason: "NodeUnfitPod", message: /1 CardInsufficientCore/ },
  },
  {
    name: "exclusive request on a shared device",
    devices: [gpu(0)],
    usage: { "GPU-0": { slots: 1, memoryMiB: 10, cores: 0 } },
    containers: [{ [GPU]: "1", [MEM]: "10", [CORES]: "100" }],
    expect: { reason: "NodeUnfitPod", message: /1 ExclusiveDeviceAllocateConflict/ },
  },
  {
    name: "nothing without cores joins a device whose cores are all taken",
    devices: [gpu(0)],
    usage: { "GPU-0": { slots: 1, memoryMiB: 100, cores: 100 } },
    containers: [{ [GPU]: "1", [MEM]: "10" }],
    expect: { reason: "NodeUnfitPod", message: /1 CardComputeUnitsExhausted/ },
  },
  {
    name: "split count reached",
    devices: [gpu(0, { splitCount: 2 })],
    usage: { "GPU-0": { slots: 2, memoryMiB: 2, cores: 0 } },
    containers: [{ [GPU]: "1", [MEM]: "1" }],
    expect: { reason: "NodeUnfitPod", message: /1 CardTimeSlicingExhausted/ },
  },
  {
    name: "unhealthy devices are skipped",
    devices: [gpu(0, { healthy: false }), gpu(1)],
    containers: [{ [GPU]: "1", [MEM]: "100" }],
    expect: ["GPU-1/100/0"],
  },
  {
    name: "use-gputype picks the matching model (substring, any case)",
    devices: [gpu(0, { type: "Tesla T4" }), gpu(1)],
    containers: [{ [GPU]: "1", [MEM]: "100" }],
    prefs: { useGPUType: ["a100"] },
    expect: ["GPU-1/100/0"],
  },
  {
    name: "HAMi's type names keep spaces: use-gputype Tesla T4 matches NVIDIA-Tesla T4",
    devices: [
      gpu(0),
      gpu(1, { type: "NVIDIA-Tesla T4" }),
      gpu(2, { type: "NVIDIA GeForce RTX 4090" }),
    ],
    containers: [{ [GPU]: "1", [MEM]: "100" }],
    prefs: { useGPUType: ["Tesla T4", "RTX 4090"], nouseGPUType: ["RTX 4090"] },
    expect: ["GPU-1/100/0"],
  },
  {
    name: "nouse-gputype excludes a model",
    devices: [gpu(0), gpu(1, { type: "Tesla T4" })],
    containers: [{ [GPU]: "1", [MEM]: "100" }],
    prefs: { nouseGPUType: ["A100"] },
    expect: ["GPU-1/100/0"],
  },
  {
    name: "no device of the wanted type",
    devices: [gpu(0), gpu(1)],
    containers: [{ [GPU]: "1", [MEM]: "100" }],
    prefs: { useGPUType: ["H100"] },
    expect: { reason: "NodeUnfitPod", message: /0 of 2 fit \(2 CardTypeMismatch\)/ },
  },
  {
    name: "use-gpuuuid and nouse-gpuuuid",
    devices: [gpu(0), gpu(1), gpu(2)],
    containers: [{ [GPU]: "1", [MEM]: "100" }],
    prefs: { useGPUUUID: ["GPU-1", "GPU-2"], nouseGPUUUID: ["GPU-1"] },
    expect: ["GPU-2/100/0"],
  },
  {
    name: "one container never takes two slices of one device",
    devices: [gpu(0)],
    containers: [{ [GPU]: "2", [MEM]: "100" }],
    expect: { reason: "NodeInsufficientDevice", message: /needs 2 GPU\(s\), 1 of 1 fit/ },
  },
  {
    name: "two containers fit together, each on its own device when memory demands it",
    devices: [gpu(0), gpu(1)],
    containers: [
      { [GPU]: "1", [PCT]: "60" },
      { [GPU]: "1", [PCT]: "60" },
    ],
    gpuPolicy: { order: "binpack" },
    expect: ["GPU-0/24000/0", "GPU-1/24000/0"],
  },
  {
    name: "a container without GPUs gets no devices; multi-GPU container",
    devices: [gpu(0), gpu(1), gpu(2)],
    containers: [{}, { [GPU]: "2", [MEM]: "500", [CORES]: "20" }],
    expect: ["", "GPU-0/500/20+GPU-1/500/20"],
  },
  {
    name: "an init container runs alone: it may take what the app containers take too (init first)",
    devices: [gpu(0)],
    containers: [{ [GPU]: "1", [PCT]: "50" }],
    init: [{ [GPU]: "1", [PCT]: "100", [CORES]: "100" }],
    expect: ["GPU-0/40000/100", "GPU-0/20000/0"],
  },
  {
    name: "gpu binpack fills the busier device",
    devices: [gpu(0), gpu(1)],
    usage: { "GPU-1": { slots: 1, memoryMiB: 1000, cores: 10 } },
    containers: [{ [GPU]: "1", [MEM]: "100" }],
    gpuPolicy: { order: "binpack" },
    expect: ["GPU-1/100/0"],
  },
  {
    name: "gpu spread prefers the idle device",
    devices: [gpu(0), gpu(1)],
    usage: { "GPU-0": { slots: 1, memoryMiB: 1000, cores: 10 } },
    containers: [{ [GPU]: "1", [MEM]: "100" }],
    gpuPolicy: { order: "spread" },
    expect: ["GPU-1/100/0"],
  },
  {
    name: "numa-bind keeps a container's devices on one NUMA node",
    devices: [gpu(0, { numa: 0 }), gpu(1, { numa: 1 }), gpu(2, { numa: 1 })],
    containers: [{ [GPU]: "2", [MEM]: "100" }],
    prefs: { numaBind: true },
    expect: ["GPU-1/100/0+GPU-2/100/0"],
  },
  {
    name: "numa-bind with no NUMA node holding enough devices",
    devices: [gpu(0, { numa: 0 }), gpu(1, { numa: 1 })],
    containers: [{ [GPU]: "2", [MEM]: "100" }],
    prefs: { numaBind: true },
    expect: { reason: "NumaNotFit" },
  },
  {
    name: "a cordoned GPU (hami.io/device-cordon) takes no new pod; the other one does",
    devices: [gpu(0, { cordoned: true }), gpu(1)],
    containers: [{ [GPU]: "1", [MEM]: "100" }],
    expect: ["GPU-1/100/0"],
  },
  {
    name: "every GPU cordoned: CardCordoned, HAMi's reason",
    devices: [gpu(0, { cordoned: true }), gpu(1, { cordoned: true })],
    containers: [{ [GPU]: "1", [MEM]: "100" }],
    expect: { reason: "NodeUnfitPod", message: /2 CardCordoned/ },
  },
  {
    name: "a node without registered GPUs",
    devices: [],
    containers: [{ [GPU]: "1" }],
    expect: { reason: "NodeNoDevices" },
  },
];

describe("fit - device fit per container", () => {
  for (const c of cases) {
    it(c.name, () => {
      const request = podRequest(
        pod({
          containers: c.containers.map((limits, i) => container(`c${i}`, limits)),
          initContainers: c.init?.map((limits, i) => container(`init${i}`, limits)),
        }),
        policy(),
      );
      const options: FitOptions = {
        gpuPolicy: { order: "spread", numa: false, mutex: false, ...c.gpuPolicy },
        preferences: c.prefs ?? {},
        vendor: nvidia,
      };
      const result = fitPod(
        {
          name: "node-1",
          devices: c.devices,
          usage: c.devices.map((d) => c.usage?.[d.uuid] ?? NO_USAGE),
        },
        request,
        options,
      );
      if (Array.isArray(c.expect)) {
        assert.ok(result.fits, result.fits ? "" : result.message);
        assert.deepEqual(
          result.devices.map((devices) =>
            devices.map((d) => `${d.uuid}/${d.memoryMiB}/${d.cores}`).join("+"),
          ),
          c.expect,
        );
      } else {
        assert.ok(!result.fits, "expected a refusal");
        assert.equal(result.reason, c.expect.reason);
        if (c.expect.message) assert.match(result.message, c.expect.message);
      }
    });
  }

  it("usage after placement counts init containers by the per-device maximum", () => {
    const request = podRequest(
      pod({
        containers: [container("app", { [GPU]: "1", [PCT]: "50" })],
        initContainers: [container("init", { [GPU]: "1", [PCT]: "100", [CORES]: "100" })],
      }),
      policy(),
    );
    const result = fitPod({ name: "n", devices: [gpu(0)], usage: [] }, request, {
      gpuPolicy: { order: "spread", numa: false, mutex: false },
      preferences: {},
      vendor: nvidia,
    });
    assert.ok(result.fits);
    assert.deepEqual(result.after[0], { slots: 1, memoryMiB: 40_000, cores: 100 });
  });
});
