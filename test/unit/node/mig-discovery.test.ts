// MIG instances from nvidia-smi's listings (samples in test/fixtures/nvidia-smi, in the layout of
// NVIDIA's MIG user guide), and how a node offers them: HAMi's operating mode mig or migstrategy
// mixed, migProfileAllowlist, the register annotation's migProfiles, and the MIG UUID Allocate gives.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  AllocateError,
  migInstancesOf,
  offered,
  parseGpuInstanceProfiles,
  parseGpuInstances,
  parseMigDevices,
  toDevices,
  visibleDevices,
  type DiscoveredGpu,
  type Offer,
} from "../../../src/node/index.js";

const SAMPLES = new URL("../../fixtures/nvidia-smi/", import.meta.url).pathname;
const A30 = "GPU-9b2d7e10-5c3a-4e8f-8d21-6a7b8c9d0e1f";
const SPLIT_A30 = "GPU-0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f";

async function tables() {
  const read = (name: string) => readFile(join(SAMPLES, name), "utf8");
  return {
    devices: parseMigDevices(await read("mig-L.txt")),
    instances: parseGpuInstances(await read("mig-lgi.txt")),
    profiles: parseGpuInstanceProfiles(await read("mig-lgip.txt")),
  };
}

describe("mig discovery - nvidia-smi listings", () => {
  it("pairs each GPU instance with a MIG device of its profile; memory and cores from -lgip", async () => {
    const { instances, skipped } = migInstancesOf({ index: 1, uuid: A30 }, await tables());
    assert.deepEqual(skipped, []);
    assert.deepEqual(instances, [
      {
        uuid: "MIG-11111111-2222-3333-4444-555555555555",
        profile: "1g.6gb",
        memoryMiB: 5949,
        cores: 25,
        sliceCount: 1,
        placement: { start: 0, size: 1 },
      },
      {
        uuid: "MIG-66666666-7777-8888-9999-000000000000",
        profile: "1g.6gb",
        memoryMiB: 5949,
        cores: 25,
        sliceCount: 1,
        placement: { start: 1, size: 1 },
      },
      {
        uuid: "MIG-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        profile: "2g.12gb",
        memoryMiB: 11971,
        cores: 50,
        sliceCount: 2,
        placement: { start: 2, size: 2 },
      },
    ]);
  });

  it("an instance split into compute instances is not offered, and says why", async () => {
    const { instances, skipped } = migInstancesOf({ index: 2, uuid: SPLIT_A30 }, await tables());
    assert.deepEqual(
      instances.map((i) => [i.profile, i.placement.start]),
      [["1g.6gb", 3]],
    );
    assert.match(skipped.join(), /2g\.12gb: 1 GPU instance\(s\) but 0 MIG device\(s\)/);
  });

  it("garbage, truncated and foreign lines are skipped, never thrown", () => {
    const junk = "||\n| 0 MIG |\n|  x  MIG 1g.5gb  19  7  0:1 |\nGPU 0: (UUID: nope)\n\u0000\u0001";
    assert.deepEqual(parseGpuInstances(junk), []);
    assert.equal(parseGpuInstanceProfiles(junk).size, 0);
    assert.equal(parseMigDevices(junk).size, 0);
    assert.deepEqual(
      parseGpuInstances("|   0  MIG 1g.5gb          19        7          0:0     |"),
      [],
      "a placement of size 0",
    );
    for (let n = 0; n < 200; n++) {
      const random = Array.from({ length: 200 }, () =>
        String.fromCharCode(Math.floor(Math.random() * 128)),
      ).join("");
      parseGpuInstances(random);
      parseGpuInstanceProfiles(random);
      parseMigDevices(random);
    }
  });
});

const instance = (start: number, profile = "1g.10gb") => ({
  uuid: `MIG-${start}`,
  profile,
  memoryMiB: profile === "1g.10gb" ? 9728 : 40192,
  cores: profile === "1g.10gb" ? 15 : 43,
  sliceCount: profile === "1g.10gb" ? 1 : 3,
  placement: { start, size: profile === "1g.10gb" ? 1 : 4 },
});
const migGpu: DiscoveredGpu = {
  index: 0,
  uuid: "GPU-a",
  type: "NVIDIA-A100-SXM4-80GB",
  memoryMiB: 81920,
  numa: 0,
  healthy: true,
  mig: [instance(4, "3g.40gb"), instance(1), instance(0)],
};
const base: Offer = { splitCount: 10, memoryScaling: 2, coreScaling: 1 };

describe("mig offer - operating mode, strategy and allowlist", () => {
  it("without mig offered, a MIG-enabled GPU is unhealthy and says why", () => {
    const gpu = offered(migGpu, base);
    assert.equal(gpu.healthy, false);
    assert.match(gpu.problem ?? "", /operating mode mig or migstrategy mixed/);
    const [device] = toDevices([migGpu], [], base);
    assert.deepEqual([device?.mode, device?.healthy], ["hami-core", false]);
  });

  it("offered: mode mig, the card's memory unscaled, one slot per instance, profiles by placement", () => {
    const [device] = toDevices([migGpu], [], { ...base, mig: { allowlist: [] } });
    assert.deepEqual(
      [device?.mode, device?.memoryMiB, device?.cores, device?.splitCount, device?.healthy],
      ["mig", 81920, 100, 3, true],
    );
    assert.deepEqual(device?.migProfiles, [
      {
        name: "1g.10gb",
        memoryMiB: 9728,
        cores: 15,
        sliceCount: 1,
        placements: [
          { start: 0, size: 1 },
          { start: 1, size: 1 },
        ],
      },
      {
        name: "3g.40gb",
        memoryMiB: 40192,
        cores: 43,
        sliceCount: 3,
        placements: [{ start: 4, size: 4 }],
      },
    ]);
  });

  it("migProfileAllowlist: the first entry whose models the type contains; no entry: nothing offered", () => {
    const allow = (allowlist: Offer["mig"]) => toDevices([migGpu], [], { ...base, mig: allowlist });
    const only1g = allow({
      allowlist: [
        { models: ["H100"], profiles: ["3g.40gb"] },
        { models: ["A100-SXM4-80GB"], profiles: ["1g.10gb"] },
      ],
    })[0];
    assert.deepEqual(
      only1g?.migProfiles?.map((p) => p.name),
      ["1g.10gb"],
    );
    assert.equal(only1g?.splitCount, 2);
    const none = allow({ allowlist: [{ models: ["H100"], profiles: ["1g.10gb"] }] })[0];
    assert.equal(none?.healthy, false);
    assert.match(
      offered(migGpu, {
        ...base,
        mig: { allowlist: [{ models: ["H100"], profiles: ["1g.10gb"] }] },
      }).problem ?? "",
      /no MIG instance exists or is allowed/,
    );
  });
});

describe("mig allocate - the instance the container sees", () => {
  it("a MIG slice is answered by its MIG UUID; a vanished instance fails the call, naming it", () => {
    const slice = {
      uuid: "GPU-a",
      type: "NVIDIA",
      memoryMiB: 9728,
      cores: 15,
      mig: { profile: "1g.10gb", placement: { start: 1, size: 1 } },
    };
    const shared = { uuid: "GPU-b", type: "NVIDIA", memoryMiB: 100, cores: 0 };
    const lookup = (gpu: string, at: { start: number; size: number }) =>
      gpu === "GPU-a" && at.start === 1 && at.size === 1 ? "MIG-x" : undefined;
    assert.deepEqual(
      visibleDevices([slice, shared], lookup).map((d) => d.uuid),
      ["MIG-x", "GPU-b"],
    );
    assert.throws(
      () =>
        visibleDevices(
          [{ ...slice, mig: { ...slice.mig, placement: { start: 0, size: 1 } } }],
          lookup,
        ),
      (error: unknown) =>
        error instanceof AllocateError &&
        /no MIG instance 1g\.10gb at 0:1 on GPU-a/.test(error.message),
    );
  });
});
