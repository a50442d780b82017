// The vendor seam: the generic fit and placement behave the same for every vendor (device order,
// NUMA, init containers, filters, cordon, topology, refusal counts), and what differs comes from the
// vendor alone: NVIDIA (HAMi-core, MIG) and a made-up second vendor (test/helpers/test-vendor.ts).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  evaluateNodes,
  fitPod,
  NO_USAGE,
  nvidia,
  podRequest,
  type Device,
  type DeviceUsage,
  type GPUPolicy,
  type NodeCandidate,
  type PodPreferences,
  type Vendor,
} from "../../../src/core/index.js";
import { container, pod, policy } from "../../helpers/pods.js";
import { acme, BLOCK_MIB } from "../../helpers/test-vendor.js";

function device(i: number, extra: Partial<Device> = {}): Device {
  return {
    uuid: `DEV-${i}`,
    index: i,
    type: i % 2 === 0 ? "Model-A" : "Model-B",
    memoryMiB: 16 * BLOCK_MIB,
    cores: 100,
    splitCount: 4,
    numa: i < 2 ? 0 : 1,
    mode: "hami-core",
    healthy: true,
    ...extra,
  };
}

interface Ask {
  containers: Record<string, string>[];
  init?: Record<string, string>[];
  prefs?: PodPreferences;
  gpuPolicy?: Partial<GPUPolicy>;
  usage?: Record<string, DeviceUsage>;
  devices?: Device[];
}

function fit(vendor: Vendor, ask: Ask) {
  const devices = ask.devices ?? [0, 1, 2, 3].map((i) => device(i));
  return fitPod(
    {
      name: "n",
      devices,
      usage: devices.map((d) => ask.usage?.[d.uuid] ?? NO_USAGE),
    },
    podRequest(
      pod({
        containers: ask.containers.map((l, i) => container(`c${i}`, l)),
        initContainers: ask.init?.map((l, i) => container(`i${i}`, l)),
      }),
      policy(),
    ),
    {
      gpuPolicy: { order: "spread", numa: false, mutex: false, ...ask.gpuPolicy },
      preferences: ask.prefs ?? {},
      vendor,
    },
  );
}

const uuids = (result: ReturnType<typeof fit>) =>
  result.fits ? result.devices.map((c) => c.map((d) => d.uuid).join("+")) : result.message;

const GPU = "nvidia.com/gpu";
const MEM = "nvidia.com/gpumem";
const busy = { slots: 1, memoryMiB: BLOCK_MIB, cores: 0 };

for (const vendor of [nvidia, acme]) {
  describe(`vendor seam - the generic fit with ${vendor.word}`, () => {
    it("spread takes the least used device, binpack the most used", () => {
      const usage = { "DEV-2": busy };
      const ask = { containers: [{ [GPU]: "1", [MEM]: "1000" }], usage };
      assert.deepEqual(uuids(fit(vendor, ask)), ["DEV-0"]);
      assert.deepEqual(uuids(fit(vendor, { ...ask, gpuPolicy: { order: "binpack" } })), ["DEV-2"]);
    });

    it("NUMA binding keeps a container's devices on one NUMA node, or refuses", () => {
      const prefs = { numaBind: true };
      const two = fit(vendor, { containers: [{ [GPU]: "2", [MEM]: "1000" }], prefs });
      assert.ok(["DEV-0+DEV-1", "DEV-2+DEV-3"].includes(String(uuids(two))));
      const three = fit(vendor, { containers: [{ [GPU]: "3", [MEM]: "1000" }], prefs });
      assert.ok(!three.fits);
      assert.equal(three.reason, "NumaNotFit");
    });

    it("uuid and type filters, health and cordon come before the vendor's rules", () => {
      const devices = [
        device(0, { healthy: false }),
        device(1, { cordoned: true }),
        device(2),
        device(3),
      ];
      const result = fit(vendor, {
        devices,
        containers: [{ [GPU]: "1", [MEM]: "1000" }],
        prefs: { useGPUType: ["Model-A"], nouseGPUUUID: ["DEV-2"] },
      });
      assert.ok(!result.fits);
      assert.match(
        result.message,
        /1 CardCordoned, 1 CardNotHealthy, 1 CardTypeMismatch, 1 CardUuidMismatch/,
      );
    });

    it("the share count and mutex are the generic fit's; memory is the vendor's", () => {
      const full = { slots: 4, memoryMiB: 0, cores: 0 };
      const result = fit(vendor, {
        devices: [device(0), device(1)],
        usage: { "DEV-0": full, "DEV-1": { slots: 1, memoryMiB: 15 * BLOCK_MIB, cores: 0 } },
        containers: [{ [GPU]: "1", [MEM]: String(2 * BLOCK_MIB) }],
      });
      assert.ok(!result.fits);
      assert.match(result.message, /1 CardInsufficientMemory, 1 CardTimeSlicingExhausted/);
      const mutex = fit(vendor, {
        devices: [device(0)],
        usage: { "DEV-0": busy },
        containers: [{ [GPU]: "1", [MEM]: "1000" }],
        gpuPolicy: { mutex: true },
      });
      assert.match(mutex.fits ? "" : mutex.message, /1 ExclusiveDeviceAllocateConflict/);
    });

    it("an init container is placed apart from the app containers; the pod holds the larger", () => {
      const result = fit(vendor, {
        devices: [device(0)],
        init: [{ [GPU]: "1", [MEM]: String(12 * BLOCK_MIB) }],
        containers: [{ [GPU]: "1", [MEM]: String(8 * BLOCK_MIB) }],
      });
      assert.ok(result.fits, result.fits ? "" : result.message);
      assert.equal(result.after[0]?.slots, 1);
      assert.equal(result.after[0]?.memoryMiB, 12 * BLOCK_MIB);
    });

    it("topology-aware picks the best-connected set from the node's pair scores", () => {
      const scores = new Map([
        [
          "DEV-0",
          new Map([
            ["DEV-3", 600],
            ["DEV-1", 10],
            ["DEV-2", 10],
          ]),
        ],
        [
          "DEV-3",
          new Map([
            ["DEV-0", 600],
            ["DEV-1", 10],
            ["DEV-2", 10],
          ]),
        ],
      ]);
      const devices = [0, 1, 2, 3].map((i) => device(i));
      const result = fitPod(
        { name: "n", devices, usage: devices.map(() => NO_USAGE), pairScores: scores },
        podRequest(pod({ containers: [container("c", { [GPU]: "2", [MEM]: "1000" })] }), policy()),
        {
          gpuPolicy: { order: "binpack", numa: false, mutex: false, topology: true },
          preferences: {},
          vendor,
        },
      );
      assert.deepEqual(uuids(result), ["DEV-0+DEV-3"]);
    });
  });
}

describe("vendor seam - what differs is the vendor's", () => {
  it("each vendor sizes the slice and writes its own word", () => {
    const ask = { devices: [device(0)], containers: [{ [GPU]: "1", [MEM]: "5000" }] };
    const byNvidia = fit(nvidia, ask);
    const byAcme = fit(acme, ask);
    assert.ok(byNvidia.fits && byAcme.fits);
    assert.deepEqual(byNvidia.devices[0]?.[0], {
      uuid: "DEV-0",
      type: "NVIDIA",
      memoryMiB: 5000,
      cores: 0,
    });
    assert.deepEqual(byAcme.devices[0]?.[0], {
      uuid: "DEV-0",
      type: "ACME",
      memoryMiB: 2 * BLOCK_MIB,
      cores: 0,
    });
  });

  it("a request that fits NVIDIA's MiB but not Acme's blocks is refused by Acme alone", () => {
    const ask = {
      devices: [device(0)],
      usage: { "DEV-0": { slots: 1, memoryMiB: 15 * BLOCK_MIB + 1, cores: 0 } },
      containers: [{ [GPU]: "1", [MEM]: "1000" }],
    };
    assert.ok(fit(nvidia, ask).fits);
    const refused = fit(acme, ask);
    assert.ok(!refused.fits);
    assert.match(refused.message, /1 CardInsufficientMemory/);
  });

  it("placement over many nodes takes the vendor from its policy", () => {
    const nodes: NodeCandidate[] = ["a", "b"].map((name) => ({
      name,
      devices: [device(0)],
      usage: [NO_USAGE],
    }));
    const request = podRequest(pod({ containers: [container("c", { [GPU]: "1" })] }), policy());
    const gpuPolicy: GPUPolicy = { order: "spread", numa: false, mutex: false };
    const [best] = evaluateNodes(
      nodes,
      request,
      {},
      { nodePolicy: "binpack", gpuPolicy, vendor: acme },
    );
    assert.ok(best?.fits);
    assert.equal(best.devices[0]?.[0]?.type, "ACME");
  });

  it("the Allocate answer is the vendor's: HAMi-core for NVIDIA, Acme's own env", () => {
    const slice = { uuid: "DEV-0", type: "X", memoryMiB: 2 * BLOCK_MIB, cores: 10 };
    const who = { podUID: "00000000-0000-0000-0000-000000000001", container: "c", env: {} };
    const allocate = {
      hookPath: "/usr/local",
      memoryScaling: 1,
      disableCoreLimit: false,
      lockDir: "/tmp/vgpulock",
    };
    const hami = nvidia.containerResponse([slice], who, allocate, "id");
    assert.equal(hami.envs.CUDA_DEVICE_MEMORY_LIMIT_0, `${2 * BLOCK_MIB}m`);
    assert.equal(hami.mounts.length, 4);
    assert.deepEqual(acme.containerResponse([slice], who, allocate, "id"), {
      envs: { ACME_VISIBLE_DEVICES: "DEV-0", ACME_MEMORY_BLOCKS_0: "2" },
      mounts: [],
    });
  });
});
