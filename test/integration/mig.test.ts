// MIG end to end on the node side: real kube-apiserver, real gRPC over unix sockets, the real binder,
// and the SIMULATED kubelet with a mock device file describing one GPU in MIG mode (no GPUs here).
// The agent registers the GPU's instances HAMi's way, each pod gets its own instance, Allocate
// answers the instance's MIG UUID without HAMi-core, and a deleted pod's instance is given again.

import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CoreV1Api, KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { agentSettings } from "../../src/cli/node.js";
import {
  defaultConfig,
  mutatePolicy,
  placementPolicy,
  type Config,
} from "../../src/config/index.js";
import { Annotation, decodeNodeDevices, MIG_ALLOCATIONS } from "../../src/core/index.js";
import { podApi } from "../../src/k8s/index.js";
import { fileSource, NodeAgent } from "../../src/node/index.js";
import { bind, ClusterView, feedView, type ViewFeed } from "../../src/scheduler/index.js";
import { createLogger, createRegistry, schedulerMetrics } from "../../src/telemetry/index.js";
import {
  controlPlaneMissing,
  startControlPlane,
  type ControlPlane,
} from "../helpers/control-plane.js";
import { waitFor } from "../helpers/net.js";
import { installSimulatedHamiCore, SimulatedKubelet } from "../helpers/simulated-kubelet.js";

const missing = controlPlaneMissing();
const NODE = "mig-node";
const log = createLogger({ level: "silent" });

const instances = [
  { profile: "1g.10gb", memoryMiB: 9984, cores: 13, start: 0, size: 1, uuid: "MIG-zero" },
  { profile: "1g.10gb", memoryMiB: 9984, cores: 13, start: 1, size: 1, uuid: "MIG-one" },
  { profile: "3g.40gb", memoryMiB: 40_704, cores: 46, start: 4, size: 4, uuid: "MIG-four" },
];
const gpuFile = (mig: typeof instances) =>
  JSON.stringify({
    devices: [{ uuid: "GPU-h100", type: "NVIDIA H100 80GB HBM3", memoryMiB: 81_559, mig }],
  });

describe("MIG on a node (mock GPU in MIG mode, simulated kubelet)", { skip: missing }, () => {
  let plane: ControlPlane;
  let kubelet: SimulatedKubelet;
  let agent: NodeAgent;
  let feed: ViewFeed;
  let view: ClusterView;
  let core: CoreV1Api;
  let kc: KubeConfig;
  let dir: string;
  let config: Config;

  const place = async (name: string, memory: string): Promise<string> => {
    const created = await core.createNamespacedPod({
      namespace: "default",
      body: {
        metadata: { name, namespace: "default", annotations: { "nvidia.com/vgpu-mode": "mig" } },
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
      } satisfies V1Pod,
    });
    const answer = await bind(
      { PodName: name, PodNamespace: "default", PodUID: created.metadata?.uid ?? "", Node: NODE },
      {
        view,
        policy: () => ({ request: mutatePolicy(config), placement: placementPolicy(config) }),
        log,
        metrics: schedulerMetrics(createRegistry(false), () => []),
        api: podApi(kc),
        clock: () => new Date(),
      },
    );
    return answer.Error;
  };
  const pod = (name: string) => core.readNamespacedPod({ namespace: "default", name });
  const allocated = (name: string) => kubelet.allocations.get(`default/${name}/c0`);

  before(async () => {
    plane = await startControlPlane();
    kc = new KubeConfig();
    kc.loadFromFile(plane.kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
    dir = await mkdtemp(join(tmpdir(), "hami-mig-"));
    await writeFile(join(dir, "gpus.json"), gpuFile(instances));
    await installSimulatedHamiCore(dir);
    const base = defaultConfig();
    config = { ...base, nvidia: { ...base.nvidia, hookPath: dir, migstrategy: "mixed" } };
    kubelet = await SimulatedKubelet.start({ kubeconfig: plane.kubeconfig, nodeName: NODE });
    view = new ClusterView({ now: () => Date.now(), registerStaleMs: 0, requireLease: true });
    feed = feedView(kc, view, { leaseNamespace: "kube-system", log });
    await feed.synced;
    agent = new NodeAgent({
      kc,
      node: NODE,
      source: fileSource(join(dir, "gpus.json"), NODE),
      pluginDir: kubelet.pluginDir,
      settings: () => agentSettings(config, join(dir, "vgpulock")),
      leaseNamespace: "kube-system",
      log,
      pollMs: 200,
      leaseMs: 1_000,
    });
    await agent.start();
    await waitFor("the view knows the MIG GPU", () =>
      view.candidate(NODE).devices.length > 0 ? true : undefined,
    );
  });

  after(async () => {
    await agent?.stop();
    await feed?.stop();
    await kubelet?.stop();
    await plane?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
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
    const annotations = (await pod("big")).metadata?.annotations ?? {};
    assert.equal(
      annotations[MIG_ALLOCATIONS],
      '[{"containerIndex":0,"deviceIndex":0,"gpuUUID":"GPU-h100","profile":"3g.40gb","placement":{"start":4,"size":4}}]',
    );
    assert.equal(annotations[Annotation.bindPhase], "success");
    assert.match(
      await place("no-room", "8000"),
      /CardMigTopologyInfeasible|CardTimeSlicingExhausted/,
    );
  });

  it("a deleted pod frees its instance for the next one", async () => {
    await core.deleteNamespacedPod({
      namespace: "default",
      name: "small-a",
      gracePeriodSeconds: 0,
    });
    await waitFor("small-a gone from the view", () =>
      view.candidate(NODE).usage[0]?.mig?.some((p) => p.start === 1) === true ? undefined : true,
    );
    await core.deleteNamespacedPod({
      namespace: "default",
      name: "no-room",
      gracePeriodSeconds: 0,
    });
    assert.equal(await place("again", "8000"), "");
    await waitFor("again served", () => allocated("again"));
    assert.deepEqual(allocated("again")?.envs, { NVIDIA_VISIBLE_DEVICES: "MIG-one" });
  });
});
