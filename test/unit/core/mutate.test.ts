// The pure mutation, table-driven over HAMi's example scenarios and every rejection.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CHANGES_ANNOTATION,
  mutatePod,
  type MutateDecision,
  type Pod,
} from "../../../src/core/index.js";
import { container, pod, policy } from "../../helpers/pods.js";

function mutated(decision: MutateDecision): Extract<MutateDecision, { kind: "mutate" }> {
  assert.equal(decision.kind, "mutate", JSON.stringify(decision));
  return decision;
}

function limitsOf(result: Pod, index = 0): Record<string, string | number> | undefined {
  return result.spec.containers[index]?.resources?.limits;
}

function envOf(result: Pod, index = 0): Record<string, string | undefined> {
  return Object.fromEntries(
    (result.spec.containers[index]?.env ?? []).map((e) => [e.name, e.value]),
  );
}

describe("mutate - HAMi example scenarios", () => {
  it("default use: nvidia.com/gpu 1 becomes an exclusive whole GPU on hami-scheduler", () => {
    const result = mutated(mutatePod(pod(), policy()));
    assert.deepEqual(limitsOf(result.pod), {
      "nvidia.com/gpu": "1",
      "nvidia.com/gpumem-percentage": "100",
      "nvidia.com/gpucores": "100",
    });
    assert.equal(result.pod.spec.schedulerName, "hami-scheduler");
    assert.equal(result.changes.length, 3);
    assert.match(result.pod.metadata?.annotations?.[CHANGES_ANNOTATION] ?? "", /exclusive/);
  });

  it("memory in MiB: keeps the request, adds no cores, sets the scheduler", () => {
    const input = pod({
      containers: [container("main", { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "3000" })],
    });
    const result = mutated(mutatePod(input, policy()));
    assert.deepEqual(limitsOf(result.pod), { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "3000" });
    assert.deepEqual(result.changes, ["schedulerName=hami-scheduler"]);
  });

  it("memory percentage below 100: shared, not exclusive", () => {
    const input = pod({
      containers: [
        container("main", { "nvidia.com/gpu": "2", "nvidia.com/gpumem-percentage": "50" }),
      ],
    });
    const result = mutated(mutatePod(input, policy()));
    assert.deepEqual(limitsOf(result.pod), {
      "nvidia.com/gpu": "2",
      "nvidia.com/gpumem-percentage": "50",
    });
  });

  it("memory percentage 100 without cores: exclusive", () => {
    const input = pod({
      containers: [
        container("main", { "nvidia.com/gpu": "1", "nvidia.com/gpumem-percentage": "100" }),
      ],
    });
    const result = mutated(mutatePod(input, policy()));
    assert.equal(limitsOf(result.pod)?.["nvidia.com/gpucores"], "100");
  });

  it("cores: an explicit cores value is kept as given", () => {
    const limits = {
      "nvidia.com/gpu": "1",
      "nvidia.com/gpumem": "3000",
      "nvidia.com/gpucores": "30",
    };
    const result = mutated(mutatePod(pod({ containers: [container("main", limits)] }), policy()));
    assert.deepEqual(limitsOf(result.pod), limits);
  });

  it("cores 0 with a whole-GPU memory request stays 0 (the user chose no core limit)", () => {
    const limits = { "nvidia.com/gpu": "1", "nvidia.com/gpucores": "0" };
    const result = mutated(mutatePod(pod({ containers: [container("main", limits)] }), policy()));
    assert.equal(limitsOf(result.pod)?.["nvidia.com/gpucores"], "0");
  });

  for (const [key, value] of [
    ["nvidia.com/use-gputype", "A100,V100"],
    ["nvidia.com/nouse-gputype", "T4"],
    ["nvidia.com/use-gpuuuid", "GPU-0a1b2c3d-1111-2222-3333-444455556666"],
    ["nvidia.com/nouse-gpuuuid", "GPU-aaaa,GPU-bbbb"],
    ["hami.io/node-scheduler-policy", "spread"],
    ["hami.io/gpu-scheduler-policy", "binpack"],
    ["nvidia.com/numa-bind", "true"],
  ] as const) {
    it(`annotation ${key}=${value} is accepted and left as written`, () => {
      const result = mutated(mutatePod(pod({ annotations: { [key]: value } }), policy()));
      assert.equal(result.pod.metadata?.annotations?.[key], value);
    });
  }

  it("init containers get the same defaults as app containers", () => {
    const input = pod({
      initContainers: [container("warmup", { "nvidia.com/gpumem": "1024" })],
      containers: [container("main")],
    });
    const result = mutated(mutatePod(input, policy()));
    assert.deepEqual(result.pod.spec.initContainers?.[0]?.resources?.limits, {
      "nvidia.com/gpumem": "1024",
      "nvidia.com/gpu": "1",
    });
    assert.equal(result.pod.spec.schedulerName, "hami-scheduler");
  });

  it("multiple containers: each GPU container completed, others untouched", () => {
    const input = pod({
      containers: [
        container("a", { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "2000" }),
        container("sidecar", { cpu: "100m" }),
        container("b", { "nvidia.com/gpucores": "20" }),
      ],
    });
    const result = mutated(mutatePod(input, policy()));
    assert.deepEqual(limitsOf(result.pod, 1), { cpu: "100m" });
    assert.equal(result.pod.spec.containers[1]?.env, undefined);
    assert.deepEqual(limitsOf(result.pod, 2), {
      "nvidia.com/gpucores": "20",
      "nvidia.com/gpu": "1",
      "nvidia.com/gpumem-percentage": "100",
    });
  });

  it("overwriteEnv: containers without GPUs get NVIDIA_VISIBLE_DEVICES=none", () => {
    const input = pod({
      containers: [
        container("gpu", { "nvidia.com/gpu": "1" }),
        container("cpu", {}, { env: [{ name: "NVIDIA_VISIBLE_DEVICES", value: "all" }] }),
      ],
    });
    const result = mutated(mutatePod(input, policy({ overwriteEnv: true })));
    assert.deepEqual(envOf(result.pod, 1), { NVIDIA_VISIBLE_DEVICES: "none" });
    assert.deepEqual(envOf(result.pod, 0), {});
  });

  it("privileged GPU container is denied with 403", () => {
    const input = pod({
      containers: [
        container("main", { "nvidia.com/gpu": "1" }, { securityContext: { privileged: true } }),
      ],
    });
    const decision = mutatePod(input, policy());
    assert.equal(decision.kind, "deny");
    assert.ok(
      decision.kind === "deny" &&
        decision.code === 403 &&
        decision.reason === "PrivilegedContainer",
    );
    assert.match(
      decision.kind === "deny" ? decision.message : "",
      /spec\.containers\[0\] \(main\) is privileged/,
    );
  });

  it("privileged container in a pod without GPUs is none of our business", () => {
    const input = pod({
      containers: [container("main", {}, { securityContext: { privileged: true } })],
    });
    assert.equal(mutatePod(input, policy()).kind, "skip");
  });

  it("ignore label skips even invalid GPU values", () => {
    const input = pod({
      labels: { "hami.io/webhook": "ignore" },
      containers: [container("main", { "nvidia.com/gpu": "-3" })],
    });
    assert.deepEqual(mutatePod(input, policy()), {
      kind: "skip",
      reason: "IgnoreLabel",
      message: "label hami.io/webhook=ignore",
    });
  });
});

describe("mutate - defaults and config", () => {
  it("gpumem without a count gets defaultGPUNum", () => {
    const input = pod({ containers: [container("main", { "nvidia.com/gpumem": "4096" })] });
    const result = mutated(mutatePod(input, policy({ defaultGPUNum: 2 })));
    assert.equal(limitsOf(result.pod)?.["nvidia.com/gpu"], "2");
    assert.ok(result.changes.includes("container main: nvidia.com/gpu=2 (defaultGPUNum)"));
  });

  it("HAMi v2.7+: a count without memory is exclusive even with defaultMemory (MiB written)", () => {
    const result = mutated(mutatePod(pod(), policy({ defaultMemory: 8000 })));
    assert.deepEqual(limitsOf(result.pod), {
      "nvidia.com/gpu": "1",
      "nvidia.com/gpumem": "8000",
      "nvidia.com/gpucores": "100",
    });
  });

  it("HAMi v2.7+: a count without memory is exclusive even with defaultCores", () => {
    const result = mutated(mutatePod(pod(), policy({ defaultCores: 30 })));
    assert.equal(limitsOf(result.pod)?.["nvidia.com/gpucores"], "100");
  });

  it("defaultCores applies to a container that names its memory", () => {
    const input = pod({
      containers: [container("main", { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "1000" })],
    });
    const result = mutated(mutatePod(input, policy({ defaultCores: 25 })));
    assert.equal(limitsOf(result.pod)?.["nvidia.com/gpucores"], "25");
  });

  it("gpumem-percentage 100 with gpumem is exclusive (cores 100), gpumem still wins", () => {
    const limits = {
      "nvidia.com/gpu": "1",
      "nvidia.com/gpumem": "4000",
      "nvidia.com/gpumem-percentage": "100",
    };
    const result = mutated(mutatePod(pod({ containers: [container("main", limits)] }), policy()));
    assert.equal(limitsOf(result.pod)?.["nvidia.com/gpucores"], "100");
    assert.match(result.warnings.join(), /nvidia.com\/gpumem=4000 is used/);
  });

  it("with memoryFactor > 1 the MiB default is left to the scheduler (gpumem is read x factor)", () => {
    const result = mutated(mutatePod(pod(), policy({ defaultMemory: 2000, memoryFactor: 4 })));
    assert.equal(limitsOf(result.pod)?.["nvidia.com/gpumem"], undefined);
    assert.match(result.changes.join(), /2000 MiB per GPU \(defaultMemory, at scheduling\)/);
  });

  it("both gpumem and gpumem-percentage: both kept as HAMi does, MiB used, warning given", () => {
    const limits = {
      "nvidia.com/gpu": "1",
      "nvidia.com/gpumem": "2000",
      "nvidia.com/gpumem-percentage": "50",
    };
    const input = pod({
      containers: [container("main", limits, { resources: { limits, requests: { ...limits } } })],
    });
    const result = mutated(mutatePod(input, policy()));
    assert.deepEqual(limitsOf(result.pod), limits);
    assert.deepEqual(result.pod.spec.containers[0]?.resources?.requests, limits);
    assert.equal(result.warnings.length, 1);
    assert.match(result.warnings[0] ?? "", /nvidia.com\/gpumem=2000 is used/);
  });

  it("resources given only in requests are read and completed in both maps", () => {
    const input = pod({
      containers: [{ name: "main", resources: { requests: { "nvidia.com/gpu": "1" } } }],
    });
    const result = mutated(mutatePod(input, policy()));
    const resources = result.pod.spec.containers[0]?.resources;
    assert.equal(resources?.limits?.["nvidia.com/gpucores"], "100");
    assert.equal(resources?.requests?.["nvidia.com/gpucores"], "100");
  });

  it("nvidia.com/priority becomes CUDA_TASK_PRIORITY", () => {
    const input = pod({
      containers: [container("main", { "nvidia.com/gpu": "1", "nvidia.com/priority": "1" })],
    });
    assert.deepEqual(envOf(mutated(mutatePod(input, policy())).pod), { CUDA_TASK_PRIORITY: "1" });
  });

  it("gpuCorePolicy other than default becomes GPU_CORE_UTILIZATION_POLICY", () => {
    const result = mutated(mutatePod(pod(), policy({ gpuCorePolicy: "force" })));
    assert.deepEqual(envOf(result.pod), { GPU_CORE_UTILIZATION_POLICY: "force" });
  });

  it("runtimeClassName is set when configured and the pod has none, kept otherwise", () => {
    const set = mutated(mutatePod(pod(), policy({ runtimeClassName: "nvidia" })));
    assert.equal(set.pod.spec.runtimeClassName, "nvidia");
    const own = pod();
    own.spec.runtimeClassName = "kata";
    assert.equal(
      mutated(mutatePod(own, policy({ runtimeClassName: "nvidia" }))).pod.spec.runtimeClassName,
      "kata",
    );
  });

  it("custom resource names from config are honoured", () => {
    const names = {
      count: "vendor.io/gpu",
      memory: "vendor.io/mem",
      memoryPercentage: "vendor.io/mem-pct",
      cores: "vendor.io/cores",
      priority: "vendor.io/prio",
    };
    const input = pod({ containers: [container("main", { "vendor.io/gpu": "1" })] });
    const result = mutated(mutatePod(input, policy({ resourceNames: names })));
    assert.deepEqual(limitsOf(result.pod), {
      "vendor.io/gpu": "1",
      "vendor.io/mem-pct": "100",
      "vendor.io/cores": "100",
    });
    assert.equal(mutatePod(pod(), policy({ resourceNames: names })).kind, "skip");
  });

  it("empty schedulerName is set; our own name needs no change", () => {
    assert.equal(
      mutated(mutatePod(pod({ schedulerName: "" }), policy())).pod.spec.schedulerName,
      "hami-scheduler",
    );
    const ours = mutated(mutatePod(pod({ schedulerName: "hami-scheduler" }), policy()));
    assert.ok(!ours.changes.some((change) => change.startsWith("schedulerName")));
  });

  it("forceOverwriteDefaultScheduler false: a default-scheduler pod passes untouched, as HAMi", () => {
    const decision = mutatePod(pod(), policy({ forceOverwriteDefaultScheduler: false }));
    assert.equal(decision.kind, "skip");
    assert.match(
      decision.kind === "skip" ? decision.message : "",
      /forceOverwriteDefaultScheduler is false/,
    );
    const blank = mutatePod(
      pod({ schedulerName: "" }),
      policy({ forceOverwriteDefaultScheduler: false }),
    );
    assert.equal(blank.kind, "mutate", "an unset scheduler is still ours");
  });

  it("a pod that chose another scheduler is left alone", () => {
    const decision = mutatePod(pod({ schedulerName: "volcano" }), policy());
    assert.equal(decision.kind, "skip");
    assert.equal(decision.kind === "skip" ? decision.reason : "", "OtherScheduler");
  });

  it("a pod without GPU requests is skipped; a zero count alone is no request", () => {
    assert.equal(
      mutatePod(pod({ containers: [container("main", { cpu: "1" })] }), policy()).kind,
      "skip",
    );
    assert.equal(
      mutatePod(pod({ containers: [container("main", { "nvidia.com/gpu": "0" })] }), policy()).kind,
      "skip",
    );
  });

  it("overwriteEnv: every container of a pod without GPUs gets NVIDIA_VISIBLE_DEVICES=none, scheduler kept", () => {
    const input = pod({
      containers: [container("a", { cpu: "1" }), container("b")],
      initContainers: [container("init")],
    });
    const result = mutated(mutatePod(input, policy({ overwriteEnv: true })));
    const env = (c: { env?: { name: string; value?: string }[] } | undefined) =>
      c?.env?.find((e) => e.name === "NVIDIA_VISIBLE_DEVICES")?.value;
    assert.deepEqual(
      [...(result.pod.spec.initContainers ?? []), ...result.pod.spec.containers].map(env),
      ["none", "none", "none"],
    );
    assert.equal(result.pod.spec.schedulerName, "default-scheduler");
  });

  it("never modifies its input", () => {
    const input = pod({
      initContainers: [container("init", { "nvidia.com/gpumem": "100" })],
      containers: [
        {
          name: "main",
          resources: {
            limits: {
              "nvidia.com/gpu": "1",
              "nvidia.com/priority": "0",
              "nvidia.com/gpumem": "10",
              "nvidia.com/gpumem-percentage": "5",
            },
            requests: { "nvidia.com/gpu": "1" },
          },
          env: [{ name: "CUDA_TASK_PRIORITY", value: "1" }],
        },
        container("cpu", {}, { env: [{ name: "NVIDIA_VISIBLE_DEVICES", value: "all" }] }),
      ],
      annotations: { a: "b" },
    });
    const before = structuredClone(input);
    const result = mutated(
      mutatePod(
        input,
        policy({ overwriteEnv: true, runtimeClassName: "nvidia", gpuCorePolicy: "force" }),
      ),
    );
    assert.deepEqual(input, before);
    assert.notDeepEqual(result.pod, before);
  });
});

describe("mutate - what HAMi admits, we admit (with a warning where it is odd)", () => {
  const cases: {
    name: string;
    limits?: Record<string, string>;
    annotations?: Record<string, string>;
    warning?: RegExp;
    check?: (pod: Pod) => void;
  }[] = [
    {
      name: "count above maxGPUCount",
      limits: { "nvidia.com/gpu": "17" },
      warning: /no node offers more than 16 GPUs/,
    },
    {
      name: "count 0 with memory: no GPU",
      limits: { "nvidia.com/gpu": "0", "nvidia.com/gpumem": "10" },
      warning: /nvidia.com\/gpu=0, so it gets no GPU/,
      check: (p) => {
        assert.equal(limitsOf(p)?.["nvidia.com/gpucores"], undefined);
      },
    },
    {
      name: "cores above 100",
      limits: { "nvidia.com/gpu": "1", "nvidia.com/gpucores": "101" },
      warning: /gpucores=101 is more than a GPU; 100 is used/,
    },
    {
      name: "percentage 0 is unset",
      limits: { "nvidia.com/gpumem-percentage": "0" },
      check: (p) => {
        assert.equal(limitsOf(p)?.["nvidia.com/gpucores"], undefined, "not exclusive");
      },
    },
    {
      name: "gpumem 0 is unset (the default applies)",
      limits: { "nvidia.com/gpumem": "0" },
      check: (p) => {
        assert.equal(limitsOf(p)?.["nvidia.com/gpumem-percentage"], "100");
      },
    },
    { name: "priority 2", limits: { "nvidia.com/gpu": "1", "nvidia.com/priority": "2" } },
    { name: "empty gputype entry", annotations: { "nvidia.com/use-gputype": "A100,,V100" } },
    {
      name: "empty annotation values",
      annotations: { "nvidia.com/use-gpuuuid": "", "nvidia.com/nouse-gpuuuid": "," },
    },
    {
      name: "odd type and uuid text",
      annotations: { "nvidia.com/nouse-gputype": "T4;x", "nvidia.com/use-gpuuuid": "GPU-1 GPU-2" },
    },
    {
      name: "unknown node policy",
      annotations: { "hami.io/node-scheduler-policy": "pack" },
      warning: /node-scheduler-policy="pack" is not one of binpack, spread, fgd: binpack is used/,
    },
    {
      name: "HAMi's gpu policy chains",
      annotations: { "hami.io/gpu-scheduler-policy": "binpack,numa" },
    },
    { name: "mutex", annotations: { "hami.io/gpu-scheduler-policy": "mutex" } },
    { name: "topology-aware", annotations: { "hami.io/gpu-scheduler-policy": "topology-aware" } },
    {
      name: "unknown gpu policy word",
      annotations: { "hami.io/gpu-scheduler-policy": "spread,fastest" },
      warning: /ignoring "fastest"/,
    },
    { name: "numa-bind as a Go bool", annotations: { "nvidia.com/numa-bind": "T" } },
    {
      name: "numa-bind that is no bool",
      annotations: { "nvidia.com/numa-bind": "yes" },
      warning: /numa-bind="yes" is not a boolean/,
    },
  ];
  for (const testCase of cases) {
    it(testCase.name, () => {
      const input = pod({
        containers: [container("main", testCase.limits ?? { "nvidia.com/gpu": "1" })],
        annotations: testCase.annotations,
      });
      const result = mutated(mutatePod(input, policy()));
      if (testCase.warning) assert.match(result.warnings.join("\n"), testCase.warning);
      else assert.deepEqual(result.warnings, []);
      testCase.check?.(result.pod);
    });
  }
});

describe("mutate - rejections", () => {
  const cases: {
    name: string;
    limits?: Record<string, string>;
    annotations?: Record<string, string>;
    nodeName?: string;
    reason: string;
    message: RegExp;
  }[] = [
    {
      name: "negative count",
      limits: { "nvidia.com/gpu": "-1" },
      reason: "InvalidGPUCount",
      message: /spec\.containers\[0\]\.resources\.limits\[nvidia\.com\/gpu\]="-1"/,
    },
    {
      name: "fractional count",
      limits: { "nvidia.com/gpu": "1.5" },
      reason: "InvalidGPUCount",
      message: /must be an integer 0\.\./,
    },
    {
      name: "milli count",
      limits: { "nvidia.com/gpu": "500m" },
      reason: "InvalidGPUCount",
      message: /"500m"/,
    },
    {
      name: "negative cores",
      limits: { "nvidia.com/gpucores": "-5" },
      reason: "InvalidGPUCores",
      message: /"-5"/,
    },
    {
      name: "percentage 101",
      limits: { "nvidia.com/gpumem-percentage": "101" },
      reason: "InvalidGPUMemoryPercentage",
      message: /"101"/,
    },
    {
      name: "unparsable memory",
      limits: { "nvidia.com/gpumem": "lots" },
      reason: "InvalidQuantity",
      message: /"lots": not a Kubernetes quantity/,
    },
    {
      name: "nodeName set",
      nodeName: "node-1",
      reason: "NodeNameSet",
      message: /spec\.nodeName="node-1"/,
    },
  ];
  for (const testCase of cases) {
    it(`${testCase.name} -> ${testCase.reason}`, () => {
      const input = pod({
        containers: [container("main", testCase.limits ?? { "nvidia.com/gpu": "1" })],
        annotations: testCase.annotations,
        nodeName: testCase.nodeName,
      });
      const decision = mutatePod(input, policy());
      assert.equal(decision.kind, "deny", JSON.stringify(decision));
      if (decision.kind !== "deny") return;
      assert.equal(decision.reason, testCase.reason);
      assert.match(decision.message, testCase.message);
    });
  }

  it("requests and limits that differ are rejected", () => {
    const input = pod({
      containers: [
        {
          name: "main",
          resources: { limits: { "nvidia.com/gpu": "2" }, requests: { "nvidia.com/gpu": "1" } },
        },
      ],
    });
    const decision = mutatePod(input, policy());
    assert.equal(
      decision.kind === "deny" ? decision.reason : decision.kind,
      "RequestLimitMismatch",
    );
  });

  it("equal requests and limits written differently are accepted", () => {
    const input = pod({
      containers: [
        {
          name: "main",
          resources: {
            limits: { "nvidia.com/gpumem": "1k" },
            requests: { "nvidia.com/gpumem": "1000" },
          },
        },
      ],
    });
    assert.equal(mutatePod(input, policy()).kind, "mutate");
  });

  it("an init container's bad value names the init container", () => {
    const input = pod({
      initContainers: [container("init", { "nvidia.com/gpumem-percentage": "200" })],
    });
    const decision = mutatePod(input, policy());
    assert.match(decision.kind === "deny" ? decision.message : "", /spec\.initContainers\[0\]/);
  });
});
