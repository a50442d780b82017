// The extender's HTTP app in process (supertest) over a view fed by real informers from the real
// kube-apiserver: wire format, bad input, bind side effects (annotations, Binding, pod Event,
// allocation event), metrics. Nodes are simulated (Node objects with the register annotation).

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  V1MicroTime,
  type V1Pod,
} from "@kubernetes/client-node";
import request from "supertest";
import { placementPolicy, defaultConfig, mutatePolicy } from "../../src/config/index.js";
import { Annotation } from "../../src/core/index.js";
import { MemoryBus } from "../../src/events/index.js";
import { MERGE_PATCH, podApi, startInformer } from "../../src/k8s/index.js";
import { formatExplanation } from "../../src/cli/explain.js";
import {
  ClusterView,
  createSchedulerApp,
  clusterStatus,
  deviceStats,
  feedView,
  type ViewFeed,
} from "../../src/scheduler/index.js";
import { createLogger, createRegistry, schedulerMetrics } from "../../src/telemetry/index.js";
import {
  controlPlaneMissing,
  startControlPlane,
  type ControlPlane,
} from "../helpers/control-plane.js";
import { createSimulatedGpuNode, simulatedGpus } from "../helpers/gpu-nodes.js";
import { runHami } from "../helpers/cli.js";
import { waitFor } from "../helpers/net.js";

const missing = controlPlaneMissing();

describe("scheduler app against a real kube-apiserver", { skip: missing }, () => {
  let plane: ControlPlane;
  /** What the view reported as unreadable. */
  const invalid: string[] = [];
  let core: CoreV1Api;
  let kc: KubeConfig;
  let feed: ViewFeed;
  let app: ReturnType<typeof createSchedulerApp>;
  const bus = new MemoryBus();
  const config = defaultConfig();

  const gpuPod = (
    name: string,
    limits: Record<string, string>,
    annotations: Record<string, string> = {},
  ): V1Pod => ({
    metadata: { name, namespace: "default", annotations },
    spec: {
      schedulerName: "hami-scheduler",
      containers: [{ name: "main", image: "cuda", resources: { limits } }],
    },
  });

  const log = createLogger({ level: "silent" });

  /** The extender's app over `view`, writing to the test's apiserver and bus. */
  const appOn = (view: ClusterView, ready: () => boolean) => {
    const registry = createRegistry(false);
    return createSchedulerApp({
      view,
      policy: () => ({ request: mutatePolicy(config), placement: placementPolicy(config) }),
      log,
      metrics: schedulerMetrics(
        registry,
        () => deviceStats(view),
        () => [],
        () => clusterStatus(view),
      ),
      api: podApi(kc),
      bus,
      clock: () => new Date(),
      registry,
      ready,
    });
  };

  /** kube-scheduler's bind call for one pod of the default namespace. */
  const postBind = (
    on: ReturnType<typeof appOn>,
    name: string,
    uid: string | undefined,
    node: string,
  ) =>
    request(on)
      .post("/bind")
      .send({ PodName: name, PodNamespace: "default", PodUID: uid, Node: node });

  before(async () => {
    plane = await startControlPlane();
    kc = new KubeConfig();
    kc.loadFromFile(plane.kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
    await createSimulatedGpuNode(core, "node-a", simulatedGpus("node-a", 2));
    await createSimulatedGpuNode(
      core,
      "node-b",
      simulatedGpus("node-b", 2, { type: "NVIDIA-A100" }),
    );
    const view = new ClusterView({
      now: () => Date.now(),
      registerStaleMs: 0,
      requireLease: false,
      onInvalid: (what) => void invalid.push(what),
    });
    feed = feedView(kc, view, { leaseNamespace: "kube-system", log });
    await feed.synced;
    app = appOn(view, () => feed.isSynced());
  });

  after(async () => {
    await feed?.stop();
    await plane?.stop();
  });

  it("filter answers Go field names: fitting nodes, and failed ones with HAMi's reasons", async () => {
    const pod = gpuPod(
      "typed",
      { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "1000" },
      { "nvidia.com/use-gputype": "A100" },
    );
    const res = await request(app)
      .post("/filter")
      .send({ Pod: pod, NodeNames: ["node-a", "node-b"] });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.NodeNames, ["node-b"]);
    assert.match(
      res.body.FailedNodes["node-a"],
      /NodeUnfitPod: container main needs 1 GPU\(s\), 0 of 2 fit \(2 CardTypeMismatch\)/,
    );
    assert.equal(res.body.Error, "");
  });

  it("a pod with no GPU request passes; an invalid one fails unresolvably with the field named", async () => {
    const plain = await request(app)
      .post("/filter")
      .send({ Pod: gpuPod("plain", {}), NodeNames: ["node-a"] });
    assert.deepEqual(plain.body.NodeNames, ["node-a"]);
    const bad = await request(app)
      .post("/filter")
      .send({
        Pod: gpuPod("bad", { "nvidia.com/gpu": "1", "nvidia.com/gpumem-percentage": "150" }),
        NodeNames: ["node-a"],
      });
    assert.deepEqual(bad.body.NodeNames, []);
    assert.match(
      bad.body.FailedAndUnresolvableNodes["node-a"],
      /spec.containers\[0\].resources.limits\[nvidia.com\/gpumem-percentage\]="150"/,
    );
  });

  it("a body kube-scheduler cannot have sent is a 400 naming the field", async () => {
    const res = await request(app)
      .post("/filter")
      .send({ Pod: { spec: {} }, NodeNames: "node-a" });
    assert.equal(res.status, 400);
    assert.match(res.body.Error, /Pod.spec.containers/);
    assert.match(res.body.Error, /NodeNames/);
    const bind = await request(app).post("/bind").send({ PodName: "x" });
    assert.equal(bind.status, 400);
    assert.match(bind.body.Error, /PodNamespace/);
  });

  it("hostile bodies are 400s naming the field, never 5xx: deep nesting, non-string quantities, huge values", async () => {
    // 5,000 levels, written as text: JSON.stringify (and supertest) would give up on the object.
    const deep = `${'{"a":'.repeat(5000)}{}${"}".repeat(5000)}`;
    const body = JSON.stringify({
      Pod: { spec: { containers: [{ name: "c" }] }, deep: "DEEP" },
      NodeNames: "DEEP",
    }).replaceAll('"DEEP"', deep);
    const nested = await request(app)
      .post("/filter")
      .set("content-type", "application/json")
      .send(body);
    assert.equal(nested.status, 400);
    assert.match(nested.body.Error, /NodeNames/);
    const numbers = await request(app)
      .post("/filter")
      .send({
        Pod: gpuPod("n", {}),
        NodeNames: ["node-a"],
      })
      .expect(200);
    assert.ok(Array.isArray(numbers.body.NodeNames));
    const objectQuantity = gpuPod("q", {});
    objectQuantity.spec!.containers[0]!.resources = {
      limits: { "nvidia.com/gpu": { n: 1 } as unknown as string },
    };
    const quantity = await request(app)
      .post("/filter")
      .send({ Pod: objectQuantity, NodeNames: ["node-a"] });
    assert.equal(quantity.status, 400);
    assert.match(
      quantity.body.Error,
      /Pod\.spec\.containers\.0\.resources\.limits\.nvidia\.com\/gpu/,
    );
    const numeric = gpuPod("numeric", {});
    numeric.spec!.containers[0]!.resources = {
      limits: { "nvidia.com/gpu": 1, "nvidia.com/gpumem": 1000 } as unknown as Record<
        string,
        string
      >,
    };
    const numericAnswer = await request(app)
      .post("/filter")
      .send({ Pod: numeric, NodeNames: ["node-a"] });
    assert.equal(numericAnswer.status, 200, "numbers are quantities too");
    const huge = gpuPod("huge-label", {
      "nvidia.com/gpu": "1",
      "nvidia.com/gpumem": "x".repeat(1_000_000),
    });
    const hugeAnswer = await request(app)
      .post("/filter")
      .send({ Pod: huge, NodeNames: ["node-a"] });
    assert.equal(hugeAnswer.status, 400);
    assert.ok(JSON.stringify(hugeAnswer.body).length < 2_000, "the value is not echoed");
  });

  it("prioritize gives 0..10 per node", async () => {
    const pod = gpuPod("p", { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "1000" });
    const res = await request(app)
      .post("/prioritize")
      .send({ Pod: pod, NodeNames: ["node-a", "node-b", "node-x"] });
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.map((h: { Host: string }) => h.Host),
      ["node-a", "node-b", "node-x"],
    );
    for (const h of res.body as { Score: number }[])
      assert.ok(Number.isInteger(h.Score) && h.Score >= 0 && h.Score <= 10);
  });

  it("bind writes HAMi's annotations, binds, records one pod Event and publishes the allocation", async () => {
    const created = await core.createNamespacedPod({
      namespace: "default",
      body: gpuPod("bound", {
        "nvidia.com/gpu": "2",
        "nvidia.com/gpumem": "3000",
        "nvidia.com/gpucores": "20",
      }),
    });
    const res = await postBind(app, "bound", created.metadata?.uid, "node-a");
    assert.deepEqual(res.body, { Error: "" });
    const pod = await core.readNamespacedPod({ namespace: "default", name: "bound" });
    const annotations = pod.metadata?.annotations ?? {};
    assert.equal(pod.spec?.nodeName, "node-a");
    assert.equal(annotations[Annotation.vgpuNode], "node-a");
    assert.equal(annotations[Annotation.bindPhase], "allocating");
    assert.equal(
      annotations[Annotation.devicesToAllocate],
      "GPU-node-a-0,NVIDIA,3000,20:GPU-node-a-1,NVIDIA,3000,20:;",
    );
    assert.equal(
      annotations[Annotation.devicesAllocated],
      annotations[Annotation.devicesToAllocate],
      "HAMi's lifecycle: the plan goes to both at bind",
    );
    const events = await waitFor("pod event", async () => {
      const list = await core.listNamespacedEvent({
        namespace: "default",
        fieldSelector: "involvedObject.name=bound",
      });
      return list.items.length >= 1 ? list.items : undefined;
    });
    assert.deepEqual(
      events.map((e) => [e.reason, e.message]),
      [
        [
          "BindingSucceed",
          "Successfully binding node [node-a] to default/bound; devices: main: GPU-node-a-0 3000MiB 20%, GPU-node-a-1 3000MiB 20%",
        ],
      ],
      "one Event: HAMi's reason and words, then the devices",
    );
    const published = bus
      .history()
      .filter((e) => e.type === "allocation" && e.pod.name === "bound");
    assert.equal(published.length, 1);
    assert.equal(published[0]?.node, "node-a");
    assert.deepEqual(
      published[0]?.containers?.[0]?.devices.map((d) => d.uuid),
      ["GPU-node-a-0", "GPU-node-a-1"],
    );
  });

  it("bind onto a node that no longer fits fails with the reason and marks nothing", async () => {
    await core.createNamespacedPod({
      namespace: "default",
      body: gpuPod("huge", { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "15000" }),
    });
    await waitFor("view saw the bound pod", async () => {
      const res = await request(app)
        .post("/filter")
        .send({
          Pod: gpuPod("probe", { "nvidia.com/gpu": "2", "nvidia.com/gpumem": "13001" }),
          NodeNames: ["node-a"],
        });
      return res.body.NodeNames.length === 0 ? true : undefined;
    });
    const res = await postBind(app, "huge", "", "node-a");
    assert.match(res.body.Error, /node node-a no longer fits: NodeUnfitPod/);
    const pod = await core.readNamespacedPod({ namespace: "default", name: "huge" });
    assert.equal(pod.spec?.nodeName, undefined);
    assert.equal(pod.metadata?.annotations?.[Annotation.devicesToAllocate], undefined);
    const reasons = await waitFor("both failure events", async () => {
      const list = await core.listNamespacedEvent({
        namespace: "default",
        fieldSelector: "involvedObject.name=huge",
      });
      const found = list.items.map((e) => e.reason ?? "");
      return found.includes("FailedBinding") && found.includes("BindingFailed") ? found : undefined;
    });
    assert.ok(reasons.includes("BindingFailed"), "HAMi's reason next to ours");
  });

  it("metrics show per-device allocation with HAMi's names, bind counts and latency", async () => {
    const text = (await request(app).get("/metrics")).text;
    const a0 =
      'node="node-a",device_uuid="GPU-node-a-0",device_index="0",device_type="NVIDIA-Tesla-T4",zone="vGPU"';
    const a1 =
      'node="node-a",device_uuid="GPU-node-a-1",device_index="1",device_type="NVIDIA-Tesla-T4",zone="vGPU"';
    for (const line of [
      `hami_gpu_memory_allocated_bytes{${a0},device_cores="100"} 3145728000`,
      `hami_gpu_memory_limit_bytes{${a0}} 16777216000`,
      `hami_gpu_core_limit_ratio{${a0}} 100`,
      `hami_gpu_core_allocated_ratio{${a1}} 20`,
      `hami_gpu_shared_count{${a0}} 1`,
      `hami_node_gpu_overview{${a0},device_cores="100",device_memory_limit="16000"} 3145728000`,
      `hami_node_gpu_memory_allocated_ratio{${a0}} 0.1875`,
      'hami_vgpu_core_allocated_ratio{namespace="default",node="node-a",pod="bound",container_index="0",device_uuid="GPU-node-a-0",zone="vGPU"} 20',
      'hami_vgpu_memory_allocated_bytes{namespace="default",node="node-a",pod="bound",container_index="0",device_uuid="GPU-node-a-0",zone="vGPU"} 3145728000',
      "hami_cluster_gpus 4",
    ])
      assert.ok(text.includes(line), `${line} in\n${text}`);
    assert.match(text, /hami_cluster_gpu_memory_allocated_ratio 0\.\d+/);
    assert.match(text, /hami_cluster_gpu_fragmentation \d/);
    assert.match(text, /hami_scheduler_binds_total\{result="bound"\} 1/);
    assert.match(text, /hami_scheduler_binds_total\{result="unfit"\} 1/);
    assert.match(text, /hami_scheduler_latency_seconds_count\{verb="filter"\} \d+/);
  });

  it("explain lists every node's verdict for a pod, and 404s an unknown pod", async () => {
    const res = await request(app).get("/explain/default/huge");
    assert.equal(res.status, 200);
    assert.equal(res.body.demand.kind, "devices");
    assert.deepEqual(
      res.body.verdicts.map((v: { node: string; fits: boolean }) => [v.node, v.fits]),
      [
        ["node-b", true],
        ["node-a", false],
      ],
    );
    assert.equal((await request(app).get("/explain/default/nope")).status, 404);
  });

  it("explain shows which device setting won on each node (its agent's hami.io/node-settings)", async () => {
    const settings = {
      deviceSplitCount: { value: 4, from: "nodeconfig" },
      deviceMemoryScaling: { value: 1, from: "config" },
      deviceCoreScaling: { value: 1, from: "config" },
      libCudaLogLevel: { from: "config" },
      migstrategy: { value: "none", from: "config" },
      operatingMode: { value: "hami-core", from: "config" },
      filterDevices: { value: { uuid: [], index: [] }, from: "config" },
      notes: [],
    };
    await core.patchNode(
      {
        name: "node-b",
        body: {
          metadata: { annotations: { [Annotation.nodeSettings]: JSON.stringify(settings) } },
        },
      },
      MERGE_PATCH,
    );
    const body = await waitFor("node-b's settings in explain", async () => {
      const res = await request(app).get("/explain/default/huge");
      const explained = res.body as Parameters<typeof formatExplanation>[0];
      return explained.nodeSettings?.["node-b"] === undefined ? undefined : explained;
    });
    assert.equal(
      body.nodeSettings?.["node-b"],
      "split 4 (nodeconfig), memory x1 (config), cores x1 (config), mode hami-core (config)",
    );
    assert.match(
      formatExplanation(body),
      /node settings \(which value won: config or nodeconfig\):\n {2}node-b: split 4 \(nodeconfig\)/,
    );
  });

  it("hami cordon takes one GPU out of new placements at once, HAMi's annotation; uncordon brings it back", async () => {
    const verdictOnB = async () => {
      const res = await request(app).get("/explain/default/huge");
      const body = res.body as { verdicts: { node: string; fits: boolean; message?: string }[] };
      return body.verdicts.find((v) => v.node === "node-b");
    };
    assert.equal((await verdictOnB())?.fits, true);
    const cordon = (gpu: string, verb = "cordon") =>
      runHami([verb, `node-b/${gpu}`, "--kubeconfig", plane.kubeconfig]);
    const first = await cordon("GPU-node-b-0");
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stdout,
      /node-b\/GPU-node-b-0: cordoned; no new pods, the pods on it keep running/,
    );
    assert.equal((await verdictOnB())?.fits, true, "the other GPU still takes it");
    assert.equal((await cordon("GPU-node-b-1")).code, 0);
    const node = await core.readNode({ name: "node-b" });
    assert.equal(
      node.metadata?.annotations?.[Annotation.deviceCordon],
      "GPU-node-b-0,GPU-node-b-1",
    );
    const refused = await waitFor("node-b refusing the pod", async () => {
      const v = await verdictOnB();
      return v?.fits === false ? v : undefined;
    });
    assert.match(refused.message ?? "", /2 CardCordoned/);
    const state = (await request(app).get("/ui/state")).body as {
      nodes: { name: string; devices: { uuid: string; cordoned: boolean }[] }[];
    };
    assert.deepEqual(
      state.nodes.find((n) => n.name === "node-b")?.devices.map((d) => [d.uuid, d.cordoned]),
      [
        ["GPU-node-b-0", true],
        ["GPU-node-b-1", true],
      ],
    );
    const again = await runHami([
      "cordon",
      "node-b/GPU-node-b-0",
      "--kubeconfig",
      plane.kubeconfig,
    ]);
    assert.match(again.stdout, /already cordoned/);
    const unknown = await runHami(["cordon", "node-b/GPU-nope", "--kubeconfig", plane.kubeconfig]);
    assert.equal(unknown.code, 2);
    assert.match(
      unknown.stderr,
      /hami cordon: GPU GPU-nope is not registered on node node-b \(registered: GPU-node-b-0, GPU-node-b-1\)/,
    );
    const uncordon = await cordon("GPU-node-b-0", "uncordon");
    assert.equal(uncordon.code, 0, uncordon.stderr);
    assert.match(uncordon.stdout, /uncordoned; it takes new pods again/);
    assert.equal((await cordon("GPU-node-b-1", "uncordon")).code, 0);
    const back = await core.readNode({ name: "node-b" });
    assert.equal(back.metadata?.annotations?.[Annotation.deviceCordon], undefined);
    await waitFor("node-b fits again", async () =>
      (await verdictOnB())?.fits === true ? true : undefined,
    );
  });

  it("a node's GPU pair scores: read for topology-aware; unreadable ones never make the node unusable", async () => {
    const scores = (value: string) =>
      core.patchNode(
        { name: "node-b", body: { metadata: { annotations: { [Annotation.nodeScores]: value } } } },
        MERGE_PATCH,
      );
    await scores('{"not": "a list"}');
    await waitFor("the view refusing the scores", () =>
      invalid.includes("node node-b hami.io/node-nvidia-score") ? true : undefined,
    );
    const res = await request(app).get("/explain/default/huge");
    const body = res.body as { verdicts: { node: string; fits: boolean }[] };
    assert.equal(body.verdicts.find((v) => v.node === "node-b")?.fits, true);
    await scores(
      '[{"uuid":"GPU-node-b-0","score":{"GPU-node-b-1":400}},{"uuid":"GPU-node-b-1","score":{"GPU-node-b-0":400}}]',
    );
  });

  it("explain says when a bind would wait for another pod's Allocate (the bind guard)", async () => {
    // node-a gets an agent: "bound" (a 2-GPU container, never served: no agent ran) now awaits
    // its Allocate, and a pod with a 2-GPU container could be confused with it.
    const leases = kc.makeApiClient(CoordinationV1Api);
    await leases.createNamespacedLease({
      namespace: "kube-system",
      body: {
        metadata: { name: "hami-agent-node-a" },
        spec: {
          holderIdentity: "node-a",
          leaseDurationSeconds: 40,
          renewTime: new V1MicroTime(Date.now()),
        },
      },
    });
    await core.createNamespacedPod({
      namespace: "default",
      body: gpuPod("second", { "nvidia.com/gpu": "2", "nvidia.com/gpumem": "1000" }),
    });
    const verdicts = await waitFor("explain shows the wait", async () => {
      const res = await request(app).get("/explain/default/second");
      const list = res.body.verdicts as { node: string; waitsFor?: string; reason: string }[];
      return list.find((v) => v.node === "node-a")?.waitsFor === undefined ? undefined : list;
    });
    const nodeA = verdicts.find((v) => v.node === "node-a");
    assert.equal(nodeA?.waitsFor, "default/bound");
    assert.match(
      nodeA?.reason ?? "",
      /a bind here waits \(up to 20 s\) for default\/bound's Allocate/,
    );
    assert.equal(verdicts.find((v) => v.node === "node-b")?.waitsFor, undefined, "no agent there");
  });
  it("bind is one write: no watcher ever sees the plan on a pod without its node", async () => {
    const seen: V1Pod[] = [];
    const watcher = startInformer<V1Pod>(
      kc,
      {
        path: "/api/v1/namespaces/default/pods",
        list: () => core.listNamespacedPod({ namespace: "default" }),
        fieldSelector: "metadata.name=atomic",
      },
      { add: (p) => void seen.push(p), update: (p) => void seen.push(p) },
    );
    await watcher.synced;
    const created = await core.createNamespacedPod({
      namespace: "default",
      body: gpuPod("atomic", { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "1000" }),
    });
    const res = await postBind(app, "atomic", created.metadata?.uid, "node-b");
    assert.deepEqual(res.body, { Error: "" });
    await waitFor("the watcher saw the bound pod", () =>
      Promise.resolve(seen.some((p) => p.spec?.nodeName === "node-b") ? true : undefined),
    );
    await watcher.stop();
    const planned = seen.filter(
      (p) =>
        p.metadata?.name === "atomic" && p.metadata.annotations?.[Annotation.devicesToAllocate],
    );
    assert.ok(planned.length > 0);
    for (const pod of planned) assert.equal(pod.spec?.nodeName, "node-b", "plan and node together");
  });

  it("a stale copy of the pending pod costs a conflict and a re-read, never a plan from old annotations", async () => {
    const created = await core.createNamespacedPod({
      namespace: "default",
      body: gpuPod(
        "stale",
        { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "1000" },
        { "nvidia.com/use-gpuuuid": "GPU-node-b-0" },
      ),
    });
    await core.patchNamespacedPod(
      {
        namespace: "default",
        name: "stale",
        body: { metadata: { annotations: { "nvidia.com/use-gpuuuid": "GPU-node-b-1" } } },
      },
      MERGE_PATCH,
    );
    // A view that holds the pod as first created: the informer has not seen the patch yet.
    const view = new ClusterView({
      now: () => Date.now(),
      registerStaleMs: 0,
      requireLease: false,
    });
    view.setNode(await core.readNode({ name: "node-b" }));
    view.setPod(created);
    const res = await postBind(
      appOn(view, () => true),
      "stale",
      created.metadata?.uid,
      "node-b",
    );
    assert.deepEqual(res.body, { Error: "" });
    const pod = await core.readNamespacedPod({ namespace: "default", name: "stale" });
    assert.match(pod.metadata?.annotations?.[Annotation.devicesToAllocate] ?? "", /^GPU-node-b-1,/);
  });
});
