import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  deviceType,
  fileSource,
  nvidiaSmiSource,
  parseNvidiaSmi,
  parseNvidiaSmiUsage,
  sysfsBusId,
  toDevices,
  virtualDevices,
} from "../../../src/node/index.js";

const SAMPLES = new URL("../../fixtures/nvidia-smi/", import.meta.url).pathname;

describe("discovery - nvidia-smi output", () => {
  it("reads healthy GPUs, odd names, units, N/A, error markers and MIG mode", () => {
    const csv = [
      "0, GPU-11111111-aaaa, NVIDIA A100-SXM4-80GB, 81920, 00000000:3B:00.0, Disabled",
      "1, GPU-22222222-bbbb, Tesla T4, 15360 MiB, 00000000:AF:00.0, [N/A]",
      "2, GPU-33333333-cccc, NVIDIA H100 80GB HBM3, [GPU requires reset], 00000000:18:00.0, Disabled",
      "3, GPU-44444444-dddd, NVIDIA A30, 24576, [N/A], Enabled",
      "4, GPU-55555555-eeee, Weird, Name, With, Commas, 1024, 00000000:01:00.0, Disabled",
      "",
      "garbage line",
      "x, GPU-6, T4, 1, 0, Disabled",
    ].join("\n");
    const { gpus, skipped } = parseNvidiaSmi(csv);
    assert.deepEqual(
      gpus.map((g) => [g.index, g.uuid, g.type, g.memoryMiB, g.healthy, g.busId, g.migEnabled]),
      [
        [0, "GPU-11111111-aaaa", "NVIDIA A100-SXM4-80GB", 81920, true, "00000000:3B:00.0", false],
        [1, "GPU-22222222-bbbb", "NVIDIA-Tesla T4", 15360, true, "00000000:AF:00.0", false],
        [2, "GPU-33333333-cccc", "NVIDIA H100 80GB HBM3", 1, false, "00000000:18:00.0", false],
        [3, "GPU-44444444-dddd", "NVIDIA A30", 24576, true, "", true],
        [
          4,
          "GPU-55555555-eeee",
          "NVIDIA-Weird Name With Commas",
          1024,
          true,
          "00000000:01:00.0",
          false,
        ],
      ],
    );
    assert.match(gpus[2]?.problem ?? "", /memory.total reads "\[GPU requires reset\]"/);
    assert.deepEqual(skipped, ["garbage line", "x, GPU-6, T4, 1, 0, Disabled"]);
  });

  it("maps bus ids to sysfs names and NUMA nodes; reads the MIG instances of MIG-enabled GPUs", async () => {
    assert.equal(sysfsBusId("00000000:3B:00.0"), "0000:3b:00.0");
    const calls: string[] = [];
    const source = nvidiaSmiSource(
      (args) => {
        calls.push(args.join(" "));
        if (args[0] === "-L") return readFile(join(SAMPLES, "mig-L.txt"), "utf8");
        if (args[1] === "-lgi") return readFile(join(SAMPLES, "mig-lgi.txt"), "utf8");
        if (args[1] === "-lgip") return readFile(join(SAMPLES, "mig-lgip.txt"), "utf8");
        return Promise.resolve(
          "0, GPU-4f6f0c8e-0d4f-4c2b-9a53-1f2e3d4c5b6a, A100, 40960, 00000000:3B:00.0, Disabled\n" +
            "1, GPU-9b2d7e10-5c3a-4e8f-8d21-6a7b8c9d0e1f, A30, 24576, 00000000:AF:00.0, Enabled\n",
        );
      },
      (busId) => Promise.resolve(busId === "00000000:AF:00.0" ? 1 : 0),
    );
    const gpus = await source.read();
    assert.deepEqual(
      gpus.map((g) => [
        g.numa,
        g.healthy,
        g.mig?.map((i) => `${i.uuid.slice(0, 6)}@${i.placement.start}`),
      ]),
      [
        [0, true, undefined],
        [1, true, ["MIG-11@0", "MIG-66@1", "MIG-aa@2"]],
      ],
    );
    assert.equal(calls.length, 4, "the MIG listings once, because a GPU has MIG on");
  });

  it("device types are HAMi's: NVML's name, spaces kept, NVIDIA- prefixed only when missing", () => {
    assert.equal(deviceType("Tesla V100-SXM2-32GB"), "NVIDIA-Tesla V100-SXM2-32GB");
    assert.equal(deviceType("Tesla T4"), "NVIDIA-Tesla T4");
    assert.equal(deviceType("NVIDIA GeForce RTX 4090"), "NVIDIA GeForce RTX 4090");
    assert.equal(deviceType("nvidia a10"), "NVIDIA-nvidia a10", "case-sensitive, as HasPrefix");
    assert.equal(deviceType("NVIDIA A10\u0000\n"), "NVIDIA A10");
    assert.equal(deviceType("[N/A]"), "NVIDIA-unknown");
  });
});

describe("discovery - host usage from nvidia-smi", () => {
  it("reads each figure; [N/A], errors and junk leave that figure out, a line without a uuid is skipped", () => {
    const csv = [
      "GPU-aaaa, 37, 2000, 40960, 61, 212.50",
      "GPU-bbbb, [N/A], 5, 15360, [Unknown Error], [N/A]",
      "GPU-cccc, -4, 1e9, , 55, 70",
      "not a gpu line",
      "",
    ].join("\n");
    assert.deepEqual(parseNvidiaSmiUsage(csv), [
      {
        uuid: "GPU-aaaa",
        utilization: 37,
        memoryUsedBytes: 2000 * 1024 * 1024,
        memoryTotalBytes: 40960 * 1024 * 1024,
        temperatureC: 61,
        powerW: 212.5,
      },
      { uuid: "GPU-bbbb", memoryUsedBytes: 5 * 1024 * 1024, memoryTotalBytes: 15360 * 1024 * 1024 },
      { uuid: "GPU-cccc", temperatureC: 55, powerW: 70 },
    ]);
  });

  it("asks nvidia-smi for the usage fields, and a mock file gives what it says (total always)", async () => {
    const asked: string[][] = [];
    const source = nvidiaSmiSource((args) => {
      asked.push(args);
      return Promise.resolve("GPU-aaaa, 1, 2, 3, 4, 5\n");
    });
    assert.equal((await source.usage()).length, 1);
    assert.deepEqual(asked, [
      [
        "--query-gpu=uuid,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw",
        "--format=csv,noheader,nounits",
      ],
    ]);
    const dir = await mkdtemp(join(tmpdir(), "hami-usage-"));
    try {
      const file = join(dir, "gpus.yaml");
      await writeFile(
        file,
        "devices:\n  - { type: T4, memoryMiB: 100, count: 2, usage: { utilization: 9, memoryUsedMiB: 50 } }\n",
      );
      assert.deepEqual(await fileSource(file, "n1").usage(), [
        {
          uuid: "GPU-mock-n1-0",
          memoryTotalBytes: 100 * 1024 * 1024,
          utilization: 9,
          memoryUsedBytes: 50 * 1024 * 1024,
        },
        {
          uuid: "GPU-mock-n1-1",
          memoryTotalBytes: 100 * 1024 * 1024,
          utilization: 9,
          memoryUsedBytes: 50 * 1024 * 1024,
        },
      ]);
      await writeFile(
        file,
        "devices:\n  - { type: T4, memoryMiB: 100, usage: { utilization: 140 } }\n",
      );
      await assert.rejects(fileSource(file, "n1").usage(), /devices\.0\.usage\.utilization/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("discovery - mock device file", () => {
  it("expands counts, keeps given uuids, and names the field of a bad file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hami-mock-"));
    try {
      const path = join(dir, "gpus.yaml");
      await writeFile(
        path,
        "devices:\n  - {type: Tesla T4, memoryMiB: 15360, count: 2}\n  - {uuid: GPU-fixed, type: A100, memoryMiB: 40960, numa: 1}\n",
      );
      const gpus = await fileSource(path, "n1").read();
      assert.deepEqual(
        gpus.map((g) => [g.index, g.uuid, g.type, g.numa]),
        [
          [0, "GPU-mock-n1-0", "NVIDIA-Tesla T4", 0],
          [1, "GPU-mock-n1-1", "NVIDIA-Tesla T4", 0],
          [2, "GPU-fixed", "NVIDIA-A100", 1],
        ],
      );
      await writeFile(
        path,
        "devices:\n  - type: H100\n    memoryMiB: 81559\n    count: 2\n    mig:\n      - {profile: 1g.10gb, memoryMiB: 9984, cores: 13, start: 6, size: 1}\n",
      );
      assert.deepEqual(
        (await fileSource(path, "n1").read()).map((g) => g.mig?.map((i) => [i.uuid, i.sliceCount])),
        [[["MIG-mock-n1-0-6", 1]], [["MIG-mock-n1-1-6", 1]]],
      );
      await writeFile(path, "devices:\n  - {type: T4, memoryMiB: -5}\n");
      await assert.rejects(fileSource(path, "n1").read(), /devices.0.memoryMiB/);
      await writeFile(
        path,
        "devices:\n  - {type: A30, memoryMiB: 1, mig: [{profile: 7c, memoryMiB: 1, cores: 1, start: 0, size: 1}]}\n",
      );
      await assert.rejects(fileSource(path, "n1").read(), /devices.0.mig.0.profile: a MIG profile/);
      await assert.rejects(
        fileSource(join(dir, "missing.yaml"), "n1").read(),
        /device file .*missing.yaml/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("discovery - devices the plugin advertises", () => {
  it("registers memory x deviceMemoryScaling and cores 100 x deviceCoreScaling, as HAMi", () => {
    const offer = { splitCount: 10, memoryScaling: 1.5, coreScaling: 2 };
    const [device] = toDevices([{ ...gpu, memoryMiB: 15_360 }], [], offer);
    assert.deepEqual([device?.memoryMiB, device?.cores, device?.mode], [23_040, 200, "hami-core"]);
  });

  const gpu = { index: 0, uuid: "GPU-a", type: "T4", memoryMiB: 100, numa: 1, healthy: true };

  it("a GPU that disappears stays registered, unhealthy", () => {
    const offer = { splitCount: 3, memoryScaling: 1, coreScaling: 1 };
    const first = toDevices([gpu, { ...gpu, index: 1, uuid: "GPU-b" }], [], offer);
    const next = toDevices([gpu], first, offer);
    assert.deepEqual(
      next.map((d) => [d.uuid, d.healthy, d.splitCount]),
      [
        ["GPU-a", true, 3],
        ["GPU-b", false, 3],
      ],
    );
  });

  it("splitCount virtual devices per GPU, <uuid>-<n>, unhealthy with their GPU", () => {
    const offer = { splitCount: 2, memoryScaling: 1, coreScaling: 1 };
    const devices = toDevices(
      [gpu, { ...gpu, index: 1, uuid: "GPU-b", healthy: false }],
      [],
      offer,
    );
    assert.deepEqual(
      virtualDevices(devices).map((d) => [d.ID, d.health]),
      [
        ["GPU-a-0", "Healthy"],
        ["GPU-a-1", "Healthy"],
        ["GPU-b-0", "Unhealthy"],
        ["GPU-b-1", "Unhealthy"],
      ],
    );
  });
});
