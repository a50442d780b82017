import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { defaultConfig, mutatePolicy } from "../../../src/config/index.js";
import { fitPod, podRequest, readPodPreferences, nvidia } from "../../../src/core/index.js";
import {
  parseNodes,
  parseTasks,
  random,
  simulate,
  taskClasses,
  taskPod,
  TraceError,
} from "../../../src/sim/index.js";

const NODES = `sn,cpu_milli,memory_mib,gpu,model
n-0,64000,262144,2,T4
n-1,96000,786432,8,G2
n-2,32000,131072,0,`;

const PODS = `name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time
p-share,6000,12288,1,460,,LS,Running,0,10,0
p-whole,12000,16384,1,1000,T4|V100M16,LS,Running,0,10,0
p-multi,32000,65536,4,1000,nan,BE,Running,0,10,0
p-cpu,4000,8192,0,0,,BE,Running,0,10,0`;

describe("sim - trace mapping", () => {
  it("nodes become registered devices with the model's memory", () => {
    const nodes = parseNodes(NODES);
    assert.deepEqual(
      nodes.map((n) => [n.name, n.devices.length, n.devices[0]?.type, n.devices[0]?.memoryMiB]),
      [
        ["n-0", 2, "T4", 16_384],
        ["n-1", 8, "G2", 32_768],
        ["n-2", 0, undefined, undefined],
      ],
    );
  });

  it("a sharing task is one GPU with cores and memory at its share; specs become use-gputype; nan is no spec", () => {
    const [share, whole, multi, cpu] = parseTasks(PODS);
    assert.deepEqual(taskPod(share!).spec.containers[0]?.resources?.limits, {
      "nvidia.com/gpu": "1",
      "nvidia.com/gpumem-percentage": "46",
      "nvidia.com/gpucores": "46",
    });
    assert.deepEqual(whole?.spec, ["T4", "V100M16"]);
    assert.equal(taskPod(whole).metadata?.annotations?.["nvidia.com/use-gputype"], "T4,V100M16");
    assert.deepEqual(multi?.spec, [], "nan means any model");
    assert.equal(taskPod(multi).spec.containers[0]?.resources?.limits?.["nvidia.com/gpu"], "4");
    assert.deepEqual(taskPod(cpu!).spec.containers[0]?.resources?.limits, {});
  });

  it("the mapped pods go through the extender's own fit: share of memory follows the model", () => {
    const [t4] = parseNodes(NODES);
    const [share, whole] = parseTasks(PODS);
    const defaults = mutatePolicy(defaultConfig());
    const fit = (task: typeof share) => {
      const pod = taskPod(task!);
      return fitPod(
        { name: t4!.name, devices: t4!.devices, usage: [] },
        podRequest(pod, defaults),
        {
          gpuPolicy: { order: "binpack", numa: false, mutex: false },
          preferences: readPodPreferences(pod.metadata?.annotations),
          vendor: nvidia,
        },
      );
    };
    const shared = fit(share);
    assert.ok(shared.fits);
    assert.deepEqual(
      shared.devices[0]?.map((d) => [d.memoryMiB, d.cores]),
      [[Math.floor(16_384 * 0.46), 46]],
    );
    const exclusive = fit(whole);
    assert.ok(exclusive.fits);
    assert.deepEqual(
      exclusive.devices[0]?.map((d) => [d.memoryMiB, d.cores]),
      [[16_384, 100]],
    );
  });

  it("bad rows name the file, line, column and value", () => {
    assert.throws(
      () => parseNodes("sn,cpu_milli,memory_mib,gpu,model\nn,lots,1,1,T4", "nodes.csv"),
      (e: unknown) =>
        e instanceof TraceError && /nodes.csv line 2: cpu_milli="lots"/.test(e.message),
    );
    assert.throws(
      () => parseNodes("sn,cpu_milli,memory_mib,gpu,model\nn,1,1,1,H900"),
      /unknown GPU model "H900"/,
    );
    assert.throws(
      () => parseTasks(`${PODS.split("\n")[0]}\nx,1,1,2,500,,LS,Running,0,0,0`, "pods.csv"),
      /pods.csv line 2: num_gpu=2 with gpu_milli=500/,
    );
    assert.throws(
      () => parseTasks(`${PODS.split("\n")[0]}\nx,1,1`, "pods.csv"),
      /pods.csv line 2: 3 columns, the header has 11/,
    );
  });

  it("task classes weigh GPU tasks by popularity with their median CPU", () => {
    const classes = taskClasses(parseTasks(PODS));
    assert.deepEqual(
      classes.map((c) => [c.gpus, c.share, c.weight, c.cpuMilli]),
      [
        [1, 0.46, 1, 6000],
        [1, 1, 1, 12000],
        [4, 1, 1, 32000],
      ],
    );
  });
});

describe("sim - replay", () => {
  it("the verdict cache changes no placement: tasks alike but for CPU or memory are not alike", () => {
    // fgd scores the CPU and memory a node has left after the task: a verdict kept for a task of
    // the same GPU request but other CPU or memory would score the node with the wrong host.
    const nodes = parseNodes(`sn,cpu_milli,memory_mib,gpu,model
t-0,16000,65536,2,T4
t-1,16000,65536,2,T4
t-2,24000,65536,2,T4
t-3,24000,131072,2,T4`);
    const tasks =
      parseTasks(`name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time
small,2000,4096,1,500,,LS,Running,0,10,0
big-cpu,12000,4096,1,500,,LS,Running,0,10,0
big-memory,2000,60000,1,500,,LS,Running,0,10,0
whole,4000,8192,1,1000,,LS,Running,0,10,0
cpu,6000,8192,0,0,,BE,Running,0,10,0`);
    for (let seed = 1; seed <= 20; seed++) {
      const run = (verdictCache: boolean) =>
        simulate({
          nodes,
          tasks,
          policy: "fgd",
          seed,
          requestDefaults: mutatePolicy(defaultConfig()),
          verdictCache,
        });
      const cached = run(true);
      const fresh = run(false);
      assert.deepEqual(cached.curve, fresh.curve, `seed ${seed}`);
      assert.equal(cached.unallocatedGpus, fresh.unallocatedGpus, `seed ${seed}`);
    }
  });

  it("the same seed draws the same sequence; different seeds differ", () => {
    const a = random(7);
    const b = random(7);
    const c = random(8);
    const seqA = [a(), a(), a()];
    assert.deepEqual(seqA, [b(), b(), b()]);
    assert.notDeepEqual(seqA, [c(), c(), c()]);
  });

  it("a tiny cluster saturates: allocation never exceeds capacity and failures are counted", () => {
    const result = simulate({
      nodes: parseNodes(NODES),
      tasks: parseTasks(PODS),
      policy: "fgd",
      seed: 1,
      requestDefaults: mutatePolicy(defaultConfig()),
    });
    assert.equal(result.totalGpus, 10);
    for (const [, allocated] of result.curve) assert.ok(allocated <= 100);
    assert.ok(result.failedTasks > 0, "130% of demand cannot all fit");
    assert.ok(
      result.unallocatedGpus >= 0 && result.fragmentedGpus <= result.unallocatedGpus + 1e-9,
    );
  });
});
