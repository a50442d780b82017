// MIG end to end on the node side: real kube-apiserver, real gRPC over unix sockets, the real binder,
// and the SIMULATED kubelet with a mock device file describing one GPU in MIG mode (no GPUs here;
// test/helpers/agent-node.ts). The agent registers the GPU's instances HAMi's way, each pod gets its
// own instance, Allocate answers the instance's MIG UUID without HAMi-core, a deleted pod's instance
// is given again, and a MIG record left by an earlier bind attempt never outlives a plan without MIG.
// A T4 next to the MIG GPU is shared through HAMi-core as usual.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { Annotation, decodeNodeDevices, MIG_ALLOCATIONS } from "../../src/core/index.js";
import { createLogger, createRegistry } from "../../src/telemetry/index.js";
import { startAgentNode, type AgentNode } from "../helpers/agent-node.js";
import {
  controlPlaneMissing,
  startControlPlane,
  type ControlPlane,
} from "../helpers/control-plane.js";
import { waitFor } from "../helpers/net.js";

const missing = controlPlaneMissing();
const NODE = "mig-node";

const instances = [
  { profile: "1g.10gb", memoryMiB: 9984, cores: 13, start: 0, size: 1, uuid: "MIG-zero" },
  { profile: "1g.10gb", memoryMiB: 9984, cores: 13, start: 1, size: 1, uuid: "MIG-one" },
  { profile: "3g.40gb", memoryMiB: 40_704, cores: 46, start: 4, size: 4, uuid: "MIG-four" },
];

describe("MIG on a node (mock GPU in MIG mode, simulated kubelet)", { skip: missing }, () => {
  let plane: ControlPlane;
  let gpuNode: AgentNode;
  let core: CoreV1Api;

  const place = async (
    name: string,
    memory: string,
    annotations: Record<string, string> = { "nvidia.com/vgpu-mode": "mig" },
  ): Promise<string> => {
    const created = await core.createNamespacedPod({
      namespace: "default",
      body: {
        metadata: { name, namespace: "default", annotations },
        spec: {
          schedulerName: "hami-scheduler",
          containers: [
            {
              name: "c0",
              image: "cuda",
              resources: { limits: { "nvidia.com/gpu": "1", "nvidia.com/gpumem": memory } },
            },
          ],
        },
      },
    });
    const [answer] = await gpuNode.bindAll([created], true);
    return answer?.Error ?? "no answer";
  };
  const allocated = (name: string) => gpuNode.kubelet.allocations.get(`default/${name}/c0`);
  const instanceAt = (start: number) =>
    gpuNode.view.candidate(NODE).usage[0]?.mig?.some((p) => p.start === start) === true;

  before(async () => {
    plane = await startControlPlane();
    const kc = new KubeConfig();
    kc.loadFromFile(plane.kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
    gpuNode = await startAgentNode(
      kc,
      {
        kubeconfig: plane.kubeconfig,
        node: NODE,
        gpus: 1,
        split: 10,
        devices: [
          { uuid: "GPU-h100", type: "NVIDIA H100 80GB HBM3", memoryMiB: 81_559, mig: instances },
          { uuid: "GPU-t4", type: "Tesla T4", memoryMiB: 15_360 },
        ],
        nvidia: { migstrategy: "mixed" },
      },
      { log: createLogger({ level: "silent" }), registry: createRegistry(false) },
    );
  });

  after(async () => {
    await gpuNode?.stop();
    await plane?.stop();
  });

  it("registers the GPU in mode mig with its profiles, one slot per instance", async () => {
    const node = await core.readNode({ name: NODE });
    const [gpu] = decodeNodeDevices(node.metadata?.annotations?.[Annotation.nodeRegister] ?? "");
    assert.deepEqual(
      [gpu?.mode, gpu?.splitCount, gpu?.cores, gpu?.migProfiles?.map((p) => p.name)],
      ["mig", 3, 100, ["1g.10gb", "3g.40gb"]],
    );
  });

  it("each pod gets its own instance; Allocate answers its MIG UUID and no HAMi-core", async () => {
    assert.equal(await place("small-a", "8000"), "");
    assert.equal(await place("small-b", "8000"), "");
    assert.equal(await place("big", "20000"), "");
    await waitFor("all three served", () =>
      ["small-a", "small-b", "big"].every((n) => allocated(n) !== undefined) ? true : undefined,
    );
    assert.deepEqual(
      ["small-a", "small-b", "big"].map((n) => allocated(n)?.envs),
      [
        { NVIDIA_VISIBLE_DEVICES: "MIG-one" },
        { NVIDIA_VISIBLE_DEVICES: "MIG-zero" },
        { NVIDIA_VISIBLE_DEVICES: "MIG-four" },
      ],
    );
    assert.deepEqual(allocated("big")?.mounts, []);
    const big = await core.readNamespacedPod({ namespace: "default", name: "big" });
    assert.equal(
      big.metadata?.annotations?.[MIG_ALLOCATIONS],
      '[{"containerIndex":0,"deviceIndex":0,"gpuUUID":"GPU-h100","profile":"3g.40gb","placement":{"start":4,"size":4}}]',
    );
    assert.equal(big.metadata?.annotations?.[Annotation.bindPhase], "success");
    assert.match(
      await place("no-room", "8000"),
      /CardMigTopologyInfeasible|CardTimeSlicingExhausted/,
    );
  });

  it("a deleted pod frees its instance for the next one", async () => {
    for (const name of ["small-a", "no-room"])
      await core.deleteNamespacedPod({ namespace: "default", name, gracePeriodSeconds: 0 });
    await waitFor("small-a's instance free in the view", () => (instanceAt(1) ? undefined : true));
    assert.equal(await place("again", "8000"), "");
    await waitFor("again served", () => allocated("again"));
    assert.deepEqual(allocated("again")?.envs, { NVIDIA_VISIBLE_DEVICES: "MIG-one" });
  });

  it("a MIG record left by an earlier bind attempt is removed when the plan has no MIG instance", async () => {
    // What a MIG bind whose Binding call failed leaves on a pod that kube-scheduler retries.
    const stale =
      '[{"containerIndex":0,"deviceIndex":0,"gpuUUID":"GPU-h100","profile":"1g.10gb","placement":{"start":0,"size":1}}]';
    const error = await place("retried", "2000", {
      "nvidia.com/vgpu-mode": "hami-core",
      [MIG_ALLOCATIONS]: stale,
    });
    assert.equal(error, "");
    const pod = await core.readNamespacedPod({ namespace: "default", name: "retried" });
    assert.equal(pod.metadata?.annotations?.[MIG_ALLOCATIONS], undefined);
    await waitFor("retried served", () => allocated("retried"));
    assert.equal(allocated("retried")?.envs.NVIDIA_VISIBLE_DEVICES, "GPU-t4");
    assert.equal(allocated("retried")?.envs.CUDA_DEVICE_MEMORY_LIMIT_0, "2000m");
    assert.equal(gpuNode.view.candidate(NODE).usage[1]?.memoryMiB, 2000, "the view holds it");
  });
});
