import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  ConfigError,
  configFromConfigMapData,
  defaultConfig,
  loadConfigFile,
  mutatePolicy,
  parseConfig,
} from "../../../src/config/index.js";

describe("config - defaults", () => {
  it("every nvidia field has HAMi's default; scheduler defaults binpack/spread/hami-scheduler", () => {
    const config = defaultConfig();
    assert.deepEqual(
      { ...config.nvidia },
      {
        resourceCountName: "nvidia.com/gpu",
        resourceMemoryName: "nvidia.com/gpumem",
        resourceMemoryPercentageName: "nvidia.com/gpumem-percentage",
        resourceCoreName: "nvidia.com/gpucores",
        resourcePriorityName: "nvidia.com/priority",
        overwriteEnv: false,
        defaultMemory: 0,
        defaultCores: 0,
        defaultGPUNum: 1,
        memoryFactor: 1,
        deviceSplitCount: 10,
        deviceMemoryScaling: 1,
        deviceCoreScaling: 1,
        migstrategy: "none",
        disablecorelimit: false,
        preConfiguredDeviceMemory: 0,
        enableNumaTopology: false,
        migProfileAllowlist: [],
        knownMigGeometries: [],
        gpuCorePolicy: "default",
        hookPath: "/usr/local",
      },
    );
    assert.deepEqual(config.scheduler, {
      schedulerName: "hami-scheduler",
      defaultSchedulerPolicy: { nodeSchedulerPolicy: "binpack", gpuSchedulerPolicy: "spread" },
      forceOverwriteDefaultScheduler: true,
      maxGPUCount: 16,
    });
  });

  it("maps onto the mutation policy", () => {
    const policy = mutatePolicy(
      parseConfig({ nvidia: { defaultMemory: 1000, resourceCountName: "x.io/gpu" } }, "t").config,
    );
    assert.equal(policy.defaultMemory, 1000);
    assert.equal(policy.resourceNames.count, "x.io/gpu");
    assert.equal(policy.schedulerName, "hami-scheduler");
  });
});

describe("config - validation", () => {
  const bad: [string, unknown, RegExp][] = [
    [
      "defaultCores above 100",
      { nvidia: { defaultCores: 101 } },
      /nvidia\.defaultCores=101: Too big/,
    ],
    ["defaultGPUNum 0", { nvidia: { defaultGPUNum: 0 } }, /nvidia\.defaultGPUNum=0/],
    [
      "string split count",
      { nvidia: { deviceSplitCount: "10" } },
      /nvidia\.deviceSplitCount="10": Invalid input: expected number/,
    ],
    ["negative defaultMemory", { nvidia: { defaultMemory: -1 } }, /nvidia\.defaultMemory=-1/],
    ["bad migstrategy", { nvidia: { migstrategy: "single" } }, /nvidia\.migstrategy="single"/],
    [
      "bad disablecorelimit",
      { nvidia: { disablecorelimit: "yes" } },
      /nvidia\.disablecorelimit="yes"/,
    ],
    [
      "bad resource name",
      { nvidia: { resourceCountName: "gpu" } },
      /nvidia\.resourceCountName="gpu": must be a qualified resource name/,
    ],
    [
      "bad node policy",
      { scheduler: { defaultSchedulerPolicy: { nodeSchedulerPolicy: "pack" } } },
      /scheduler\.defaultSchedulerPolicy\.nodeSchedulerPolicy="pack"/,
    ],
    [
      "unknown scheduler field",
      { scheduler: { schedulerNmae: "x" } },
      /scheduler\.schedulerNmae="x": unknown field/,
    ],
    ["scaling below 0.1", { nvidia: { deviceMemoryScaling: 0 } }, /nvidia\.deviceMemoryScaling=0/],
  ];
  for (const [name, input, message] of bad) {
    it(`${name} is a startup error naming field and value`, () => {
      assert.throws(
        () => parseConfig(input, "cfg.yaml"),
        (error: unknown) =>
          error instanceof ConfigError &&
          message.test(error.message) &&
          error.message.includes("cfg.yaml"),
      );
    });
  }

  it("HAMi's string disablecorelimit is accepted", () => {
    assert.equal(
      parseConfig({ nvidia: { disablecorelimit: "true" } }, "t").config.nvidia.disablecorelimit,
      true,
    );
  });

  it("unknown nvidia fields (other HAMi versions) warn instead of failing", () => {
    const { warnings } = parseConfig({ nvidia: { defaultMemroy: 10 } }, "t");
    assert.deepEqual(warnings, ["unknown field nvidia.defaultMemroy ignored (check the spelling)"]);
  });
});

describe("config - loading", () => {
  const dirs: string[] = [];
  const tempDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), "hami-config-"));
    dirs.push(dir);
    return dir;
  };
  after(async () => {
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it("loads a bare YAML document, a JSON document and a ConfigMap manifest", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "bare.yaml"), "nvidia:\n  defaultMemory: 2048\n");
    await writeFile(join(dir, "doc.json"), JSON.stringify({ nvidia: { defaultCores: 10 } }));
    const manifest =
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hami-scheduler-device\ndata:\n  device-config.yaml: |\n    nvidia:\n      deviceSplitCount: 4\n";
    await writeFile(join(dir, "cm.yaml"), manifest);
    assert.equal((await loadConfigFile(join(dir, "bare.yaml"))).config.nvidia.defaultMemory, 2048);
    assert.equal((await loadConfigFile(join(dir, "doc.json"))).config.nvidia.defaultCores, 10);
    assert.equal((await loadConfigFile(join(dir, "cm.yaml"))).config.nvidia.deviceSplitCount, 4);
  });

  it("an empty file means all defaults", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "empty.yaml"), "");
    assert.deepEqual((await loadConfigFile(join(dir, "empty.yaml"))).config, defaultConfig());
  });

  it("missing file, broken YAML and a ConfigMap without the key are clear errors", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "broken.yaml"), "nvidia: [unclosed\n");
    await assert.rejects(loadConfigFile(join(dir, "missing.yaml")), /cannot read/);
    await assert.rejects(loadConfigFile(join(dir, "broken.yaml")), /not valid YAML\/JSON/);
    assert.throws(
      () => configFromConfigMapData({ other: "x" }, "cm"),
      /data has none of the keys device-config.yaml, config.yaml/,
    );
  });
});

describe("config - shipped example", () => {
  it("examples/hami-scheduler-device.yaml lists every field with its default", async () => {
    const path = new URL("../../../examples/hami-scheduler-device.yaml", import.meta.url).pathname;
    const loaded = await loadConfigFile(path);
    assert.deepEqual(loaded.warnings, []);
    assert.deepEqual(loaded.config, defaultConfig());
    const { parse } = await import("yaml");
    const { readFile } = await import("node:fs/promises");
    const raw = parse(await readFile(path, "utf8")) as { nvidia: object; scheduler: object };
    assert.deepEqual(Object.keys(raw.nvidia).sort(), Object.keys(defaultConfig().nvidia).sort());
  });
});

describe("config - HAMi's ConfigMap and spellings", () => {
  it("HAMi v2.10's own chart ConfigMap loads unchanged, with one warning naming what is ignored", async () => {
    const path = new URL("../../fixtures/hami/device-configmap.yaml", import.meta.url).pathname;
    const { config, warnings } = await loadConfigFile(path);
    assert.equal(config.nvidia.runtimeClassName, undefined, 'runtimeClassName "" is unset');
    assert.equal(config.nvidia.memoryFactor, 1);
    assert.equal(config.nvidia.libCudaLogLevel, 1);
    assert.equal(config.nvidia.deviceSplitCount, 10);
    assert.equal(warnings.length, 1);
    assert.deepEqual(config.nvidia.migProfileAllowlist?.[2], {
      models: ["A100-SXM4-80GB", "A100-80GB-PCIe", "A100-PCIE-80GB"],
      profiles: ["1g.10gb", "2g.20gb", "3g.40gb", "7g.79gb"],
    });
    assert.match(warnings[0] ?? "", /other vendors' sections \(cambricon, hygon/);
  });

  it("defaultMem is defaultMemory; both set and different is an error naming both", () => {
    assert.equal(
      parseConfig({ nvidia: { defaultMem: 2000 } }, "t").config.nvidia.defaultMemory,
      2000,
    );
    assert.equal(
      parseConfig({ nvidia: { defaultMem: 2000, defaultMemory: 2000 } }, "t").config.nvidia
        .defaultMemory,
      2000,
    );
    assert.throws(
      () => parseConfig({ nvidia: { defaultMem: 2000, defaultMemory: 1000 } }, "t"),
      /nvidia\.defaultMem=2000 and nvidia\.defaultMemory=1000: both set and different/,
    );
  });

  it("HAMi's disableCoreLimit and the older disablecorelimit both work", () => {
    assert.equal(
      parseConfig({ nvidia: { disableCoreLimit: true } }, "t").config.nvidia.disablecorelimit,
      true,
    );
    assert.equal(
      parseConfig({ nvidia: { disablecorelimit: "true" } }, "t").config.nvidia.disablecorelimit,
      true,
    );
  });

  it("memoryFactor below 1 counts as 1 (HAMi's max(factor, 1)); libCudaLogLevel as a string", () => {
    const { nvidia } = parseConfig(
      { nvidia: { memoryFactor: 0, libCudaLogLevel: "3" } },
      "t",
    ).config;
    assert.equal(nvidia.memoryFactor, 1);
    assert.equal(nvidia.libCudaLogLevel, 3);
  });

  it("settings accepted but not applied are named in one warning", () => {
    const { warnings } = parseConfig(
      { nvidia: { enableNumaTopology: true, preConfiguredDeviceMemory: 1000 }, amd: {} },
      "t",
    );
    assert.deepEqual(warnings, [
      "accepted but not applied by hami-ts (NVIDIA through HAMi-core only): nvidia.preConfiguredDeviceMemory; nvidia.enableNumaTopology; other vendors' sections (amd)",
    ]);
  });
});
