// MIG, HAMi's way: which instance a container gets (smallest profile by memory, then slices; 1g./3g.
// from the highest start), the register annotation's migProfiles and the pod's
// hami.io/vgpu-mig-allocations byte for byte, and fit on a GPU in mode "mig".
// The golden strings were printed by Go's encoding/json from structs with HAMi's field tags
// (Project-HAMi/HAMi pkg/device/devices.go DeviceInfo, MigProfile, MigPlacement and
// pkg/device/nvidia/mig_allocations.go MigAllocation), so they are Go's bytes, not ours.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  attachMigSlices,
  decodeMigAllocations,
  decodeNodeDevices,
  encodeMigAllocations,
  encodeNodeDevices,
  fitPod,
  HamiError,
  MIG_ALLOCATIONS,
  migChoice,
  NO_USAGE,
  podRequest,
  podUsage,
  readPodPreferences,
  type Device,
  type DeviceUsage,
  type MigProfile,
  type PodDevices,
  nvidia,
} from "../../../src/core/index.js";
import { container, pod, policy } from "../../helpers/pods.js";

const PROFILES: MigProfile[] = [
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
  { name: "7g.80gb", memoryMiB: 80896, cores: 100, sliceCount: 7, placements: [] },
];

const MIG_GPU: Device = {
  uuid: "GPU-a100-0",
  index: 0,
  type: "NVIDIA-A100-SXM4-80GB",
  memoryMiB: 81920,
  cores: 100,
  splitCount: 3,
  numa: 0,
  mode: "mig",
  migProfiles: PROFILES,
  healthy: true,
};
const SHARED_GPU: Device = {
  uuid: "GPU-a100-1",
  index: 1,
  type: "NVIDIA-A100-SXM4-80GB",
  memoryMiB: 81920,
  cores: 100,
  splitCount: 10,
  numa: 1,
  mode: "hami-core",
  healthy: true,
};

const GO_REGISTER =
  '[{"id":"GPU-a100-0","count":3,"devmem":81920,"devcore":100,"type":"NVIDIA-A100-SXM4-80GB","mode":"mig","migProfiles":[{"name":"1g.10gb","memoryMB":9728,"core":15,"sliceCount":1,"placements":[{"start":0,"size":1},{"start":1,"size":1}]},{"name":"3g.40gb","memoryMB":40192,"core":43,"sliceCount":3,"placements":[{"start":4,"size":4}]},{"name":"7g.80gb","memoryMB":80896,"core":100,"sliceCount":7,"placements":null}],"health":true},{"id":"GPU-a100-1","index":1,"count":10,"devmem":81920,"devcore":100,"type":"NVIDIA-A100-SXM4-80GB","numa":1,"mode":"hami-core","health":true}]';
const GO_ALLOCATIONS =
  '[{"containerIndex":0,"deviceIndex":0,"gpuUUID":"GPU-a100-0","profile":"1g.10gb","placement":{"start":1,"size":1}},{"containerIndex":2,"deviceIndex":1,"gpuUUID":"GPU-a100-0","profile":"3g.40gb","placement":{"start":4,"size":4}}]';

const GPU = "nvidia.com/gpu";
const MEM = "nvidia.com/gpumem";

describe("mig - which instance a container gets", () => {
  it("the smallest profile that holds the request; 1g. from the highest start", () => {
    assert.deepEqual(migChoice(PROFILES, [], 5000), {
      profile: "1g.10gb",
      placement: { start: 1, size: 1 },
      memoryMiB: 9728,
      cores: 15,
    });
    assert.deepEqual(migChoice(PROFILES, [{ start: 1, size: 1 }], 5000)?.placement, {
      start: 0,
      size: 1,
    });
    assert.equal(migChoice(PROFILES, [], 20_000)?.profile, "3g.40gb");
  });

  it("a bigger profile when the small ones are taken; none when placements overlap what is used", () => {
    const used = [
      { start: 0, size: 1 },
      { start: 1, size: 1 },
    ];
    assert.equal(migChoice(PROFILES, used, 5000)?.profile, "3g.40gb");
    assert.equal(migChoice(PROFILES, [...used, { start: 6, size: 2 }], 5000), undefined);
    assert.equal(migChoice(PROFILES, [], 90_000), undefined, "no profile holds 90000 MiB");
  });

  it("equal memory: fewer slices first", () => {
    const profiles: MigProfile[] = [
      {
        name: "2g.20gb",
        memoryMiB: 19968,
        cores: 29,
        sliceCount: 2,
        placements: [{ start: 0, size: 2 }],
      },
      {
        name: "1g.20gb",
        memoryMiB: 19968,
        cores: 15,
        sliceCount: 1,
        placements: [{ start: 2, size: 2 }],
      },
    ];
    assert.equal(migChoice(profiles, [], 10_000)?.profile, "1g.20gb");
  });
});

describe("mig - HAMi's annotation bytes", () => {
  it("the register annotation carries migProfiles as Go writes them, and reads back", () => {
    assert.equal(encodeNodeDevices([MIG_GPU, SHARED_GPU]), GO_REGISTER);
    assert.deepEqual(decodeNodeDevices(GO_REGISTER), [MIG_GPU, SHARED_GPU]);
  });

  it("hami.io/vgpu-mig-allocations as Go writes it, and reads back onto the pod's devices", () => {
    const devices: PodDevices = [
      [
        {
          uuid: "GPU-a100-0",
          type: "NVIDIA",
          memoryMiB: 9728,
          cores: 15,
          mig: { profile: "1g.10gb", placement: { start: 1, size: 1 } },
        },
      ],
      [],
      [
        { uuid: "GPU-a100-1", type: "NVIDIA", memoryMiB: 1000, cores: 0 },
        {
          uuid: "GPU-a100-0",
          type: "NVIDIA",
          memoryMiB: 40192,
          cores: 43,
          mig: { profile: "3g.40gb", placement: { start: 4, size: 4 } },
        },
      ],
    ];
    assert.equal(encodeMigAllocations(devices), GO_ALLOCATIONS);
    const bare = devices.map((c) =>
      c.map((d) => ({ uuid: d.uuid, type: d.type, memoryMiB: d.memoryMiB, cores: d.cores })),
    );
    assert.deepEqual(attachMigSlices(bare, { [MIG_ALLOCATIONS]: GO_ALLOCATIONS }), devices);
    assert.equal(encodeMigAllocations(bare), undefined, "no MIG instance, no annotation");
  });

  it("the node's runtime identity is read when complete; bad entries name the problem", () => {
    const withRuntime =
      '[{"containerIndex":0,"deviceIndex":0,"gpuUUID":"GPU-a","profile":"1g.10gb","placement":{"start":0,"size":1},"migUUID":"MIG-x","gpuInstanceID":0,"computeInstanceID":0}]';
    assert.equal(decodeMigAllocations(withRuntime)[0]?.migUUID, "MIG-x");
    const bad: [string, RegExp][] = [
      ["{", /not JSON/],
      ['[{"containerIndex":0}]', /deviceIndex/],
      [
        '[{"containerIndex":0,"deviceIndex":0,"gpuUUID":"GPU-a","profile":"1g","placement":{"start":0,"size":0}}]',
        /placement\.size/,
      ],
      [
        '[{"containerIndex":0,"deviceIndex":0,"gpuUUID":"GPU-a","profile":"1g","placement":{"start":0,"size":1},"migUUID":"MIG-x"}]',
        /partial runtime identity/,
      ],
      [
        '[{"containerIndex":0,"deviceIndex":0,"gpuUUID":"GPU-a","profile":"1g","placement":{"start":0,"size":1}},{"containerIndex":0,"deviceIndex":0,"gpuUUID":"GPU-a","profile":"1g","placement":{"start":1,"size":1}}]',
        /listed twice/,
      ],
    ];
    for (const [raw, message] of bad)
      assert.throws(
        () => decodeMigAllocations(raw),
        (error: unknown) => error instanceof HamiError && message.test(error.message),
        raw,
      );
    assert.throws(
      () =>
        attachMigSlices([[{ uuid: "GPU-b", type: "NVIDIA", memoryMiB: 1, cores: 0 }]], {
          [MIG_ALLOCATIONS]: withRuntime,
        }),
      /is not GPU-a/,
    );
  });
});

function fit(
  containers: Record<string, string>[],
  usage: DeviceUsage[] = [],
  annotations: Record<string, string> = {},
  init: Record<string, string>[] = [],
) {
  const request = podRequest(
    pod({
      containers: containers.map((limits, i) => container(`c${i}`, limits)),
      initContainers: init.map((limits, i) => container(`init${i}`, limits)),
    }),
    policy(),
  );
  return fitPod(
    {
      name: "n",
      devices: [MIG_GPU, SHARED_GPU],
      usage: [usage[0] ?? NO_USAGE, usage[1] ?? NO_USAGE],
    },
    request,
    {
      gpuPolicy: { order: "binpack", numa: false, mutex: false },
      preferences: readPodPreferences(annotations),
      vendor: nvidia,
    },
  );
}

describe("mig - fit on a GPU in mode mig", () => {
  const migOnly = { "nvidia.com/vgpu-mode": "mig" };

  it("each container gets its own instance, sized by the profile; the usage records where they sit", () => {
    const result = fit(
      [
        { [GPU]: "1", [MEM]: "4000" },
        { [GPU]: "1", [MEM]: "9000" },
      ],
      [],
      migOnly,
    );
    assert.ok(result.fits, result.fits ? "" : result.message);
    assert.deepEqual(
      result.devices.map((c) => c.map((d) => [d.uuid, d.memoryMiB, d.cores, d.mig])),
      [
        [["GPU-a100-0", 9728, 15, { profile: "1g.10gb", placement: { start: 1, size: 1 } }]],
        [["GPU-a100-0", 9728, 15, { profile: "1g.10gb", placement: { start: 0, size: 1 } }]],
      ],
    );
    const { mig, ...sums } = result.after[0] ?? NO_USAGE;
    assert.deepEqual(sums, { slots: 2, memoryMiB: 2 * 9728, cores: 30 });
    assert.deepEqual(mig?.map((p) => p.start).sort(), [0, 1]);
    const held = podUsage(result.devices, 0).get("GPU-a100-0");
    assert.deepEqual(
      held?.mig?.map((p) => p.start).sort(),
      [0, 1],
      "the pod's usage, as the view reads it, holds both instances",
    );
  });

  it("no free placement of a profile that holds it: CardMigTopologyInfeasible", () => {
    const used: DeviceUsage = {
      slots: 1,
      memoryMiB: 40192,
      cores: 43,
      mig: [{ start: 4, size: 4 }],
    };
    const result = fit([{ [GPU]: "1", [MEM]: "20000" }], [used], migOnly);
    assert.ok(!result.fits);
    assert.match(result.message, /1 CardMigTopologyInfeasible/);
    assert.match(result.message, /1 CardTypeMismatch/, "the hami-core GPU is not mig");
  });

  it("an app container may take its init container's instance: init containers have ended by then", () => {
    const result = fit([{ [GPU]: "1", [MEM]: "4000" }], [], migOnly, [
      { [GPU]: "1", [MEM]: "4000" },
    ]);
    assert.ok(result.fits);
    const [init, app] = result.devices;
    assert.deepEqual(init?.[0]?.mig, app?.[0]?.mig);
    assert.equal(result.after[0]?.slots, 1);
  });

  it("nvidia.com/vgpu-mode picks the mode; without it both modes qualify", () => {
    const shared = fit([{ [GPU]: "1", [MEM]: "4000" }], [], {
      "nvidia.com/vgpu-mode": "hami-core",
    });
    assert.ok(shared.fits);
    assert.equal(shared.devices[0]?.[0]?.uuid, "GPU-a100-1");
    assert.equal(shared.devices[0]?.[0]?.mig, undefined);
    const any = fit([{ [GPU]: "2", [MEM]: "4000" }]);
    assert.ok(any.fits);
    assert.deepEqual(
      any.devices[0]?.map((d) => [d.uuid, d.memoryMiB, d.mig?.profile]),
      [
        ["GPU-a100-0", 9728, "1g.10gb"],
        ["GPU-a100-1", 4000, undefined],
      ],
    );
  });
});
