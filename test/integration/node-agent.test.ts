// The node agent end to end: real kube-apiserver, real nats-server, real gRPC over unix sockets, and
// the SIMULATED kubelet (no real kubelet, no GPUs: the agent reads a mock device file). Pods are
// placed by the real binder of the extender (no kube-scheduler needed to choose one node).

import assert from "node:assert/strict";
import { existsSync, statSync } from "node:fs";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  type V1Container,
  type V1Pod,
} from "@kubernetes/client-node";
import { status } from "@grpc/grpc-js";
import { connect } from "nats";
import { agentSettings } from "../../src/cli/node.js";
import {
  defaultConfig,
  mutatePolicy,
  placementPolicy,
  type Config,
} from "../../src/config/index.js";
import { Annotation, decodeNodeDevices } from "../../src/core/index.js";
import { NatsBus, type HamiEvent } from "../../src/events/index.js";
import { podApi } from "../../src/k8s/index.js";
import { devicePluginClient, fileSource, NodeAgent, PLUGIN_SOCKET } from "../../src/node/index.js";
import { bind, ClusterView, feedView, type ViewFeed } from "../../src/scheduler/index.js";
import { createLogger, createRegistry, schedulerMetrics } from "../../src/telemetry/index.js";
import {
  controlPlaneMissing,
  startControlPlane,
  type ControlPlane,
} from "../helpers/control-plane.js";
import { startNats, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/net.js";
import { installSimulatedHamiCore, SimulatedKubelet } from "../helpers/simulated-kubelet.js";

const missing = controlPlaneMissing();
const NODE = "agent-node";
const RESOURCE = "nvidia.com/gpu";
const log = createLogger({ level: "silent" });

const gpuFile = (t4Healthy: boolean) =>
  JSON.stringify({
    devices: [
      { uuid: "GPU-aaaa", type: "NVIDIA A100-SXM4-40GB", memoryMiB: 40_000, numa: 0 },
      { uuid: "GPU-bbbb", type: "Tesla T4", memoryMiB: 15_360, numa: 1, healthy: t4Healthy },
    ],
  });

describe("node agent with the simulated kubelet (mock GPUs)", { skip: missing }, () => {
  let plane: ControlPlane;
  let nats: NatsServer;
  let kubelet: SimulatedKubelet;
  let agent: NodeAgent;
  let agentBus: NatsBus;
  let schedulerBus: NatsBus;
  let feed: ViewFeed;
  let view: ClusterView;
  let core: CoreV1Api;
  let kc: KubeConfig;
  let dir: string;
  let config: Config;
  const published: HamiEvent[] = [];

  function startAgent(): NodeAgent {
    return new NodeAgent({
      kc,
      node: NODE,
      source: fileSource(join(dir, "gpus.json"), NODE),
      pluginDir: kubelet.pluginDir,
      settings: () => agentSettings(config, join(dir, "vgpulock")),
      leaseNamespace: "kube-system",
      bus: agentBus,
      log,
      pollMs: 200,
      leaseMs: 1_000,
    });
  }

  const binderDeps = () => ({
    view,
    policy: () => ({ request: mutatePolicy(config), placement: placementPolicy(config) }),
    log,
    metrics: schedulerMetrics(createRegistry(false), () => []),
    api: podApi(kc),
    bus: schedulerBus,
    clock: () => new Date(),
  });

  function pod(
    name: string,
    containers: Record<string, string>[],
    init: Record<string, string>[] = [],
    env: V1Container["env"] = [],
  ): V1Pod {
    const c = (limits: Record<string, string>, i: number, prefix: string): V1Container => ({
      name: `${prefix}${i}`,
      image: "cuda",
      env,
      resources: { limits },
    });
    return {
      metadata: { name, namespace: "default" },
      spec: {
        schedulerName: "hami-scheduler",
        containers: containers.map((l, i) => c(l, i, "c")),
        initContainers: init.map((l, i) => c(l, i, "init")),
      },
    };
  }

  async function place(body: V1Pod): Promise<V1Pod> {
    const created = await core.createNamespacedPod({ namespace: "default", body });
    await waitFor("view knows the node's GPUs", () =>
      view.candidate(NODE).devices.length > 0 ? true : undefined,
    );
    const answer = await bind(
      {
        PodName: created.metadata?.name ?? "",
        PodNamespace: "default",
        PodUID: created.metadata?.uid ?? "",
        Node: NODE,
      },
      binderDeps(),
    );
    assert.equal(answer.Error, "");
    return created;
  }

  const phase = async (name: string) =>
    (await core.readNamespacedPod({ namespace: "default", name })).status?.phase;
  const running = (name: string) =>
    waitFor(
      `${name} Running`,
      async () => ((await phase(name)) === "Running" ? true : undefined),
      20_000,
    );
  const envs = (name: string, container = "c0") =>
    kubelet.allocations.get(`default/${name}/${container}`)?.envs ?? {};
  const annotations = async (name: string) =>
    (await core.readNamespacedPod({ namespace: "default", name })).metadata?.annotations ?? {};

  before(async () => {
    plane = await startControlPlane();
    nats = await startNats();
    kc = new KubeConfig();
    kc.loadFromFile(plane.kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
    dir = await mkdtemp(join(tmpdir(), "hami-agent-"));
    await writeFile(join(dir, "gpus.json"), gpuFile(true));
    await installSimulatedHamiCore(dir);
    const base = defaultConfig();
    config = { ...base, nvidia: { ...base.nvidia, deviceSplitCount: 4, hookPath: dir } };
    kubelet = await SimulatedKubelet.start({
      kubeconfig: plane.kubeconfig,
      nodeName: NODE,
      heartbeatMs: 1_000,
    });
    agentBus = await NatsBus.start({ nats: { url: nats.url }, log });
    schedulerBus = await NatsBus.start({ nats: { url: nats.url }, log });
    schedulerBus.consume({
      filter: ">",
      start: { kind: "new" },
      handler: (event) => void published.push(event),
    });
    view = new ClusterView({ now: () => Date.now(), registerStaleMs: 0, requireLease: true });
    feed = feedView(kc, view, { leaseNamespace: "kube-system", log });
    await feed.synced;
    agent = startAgent();
    await agent.start();
  });

  after(async () => {
    await agent?.stop();
    await feed?.stop();
    await agentBus?.close();
    await schedulerBus?.close();
    await kubelet?.stop();
    await nats?.cleanup();
    await plane?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("registers: the register annotation, the agent Lease, and GPUs x split as the kubelet's capacity", async () => {
    const node = await core.readNode({ name: NODE });
    const devices = decodeNodeDevices(node.metadata?.annotations?.[Annotation.nodeRegister] ?? "");
    assert.deepEqual(
      devices.map((d) => [d.uuid, d.type, d.memoryMiB, d.splitCount, d.numa, d.healthy]),
      [
        ["GPU-aaaa", "NVIDIA A100-SXM4-40GB", 40_000, 4, 0, true],
        ["GPU-bbbb", "NVIDIA-Tesla T4", 15_360, 4, 1, true],
      ],
    );
    const lease = await kc
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ namespace: "kube-system", name: `hami-agent-${NODE}` });
    assert.equal(lease.spec?.holderIdentity, NODE);
    await waitFor("allocatable 8", async () =>
      (await core.readNode({ name: NODE })).status?.allocatable?.[RESOURCE] === "8"
        ? true
        : undefined,
    );
    assert.equal(kubelet.devices.registrations.length, 1);
    assert.equal(kubelet.devices.registrations[0]?.endpoint, PLUGIN_SOCKET);
  });

  it("Allocate answers the HAMi-core contract for MiB and cores, records it and publishes it", async () => {
    const created = await place(
      pod("mib", [{ [RESOURCE]: "1", "nvidia.com/gpumem": "3000", "nvidia.com/gpucores": "30" }]),
    );
    await running("mib");
    const e = envs("mib");
    assert.equal(e.CUDA_DEVICE_MEMORY_LIMIT_0, "3000m");
    assert.equal(e.CUDA_DEVICE_SM_LIMIT, "30");
    assert.match(e.NVIDIA_VISIBLE_DEVICES ?? "", /^GPU-(aaaa|bbbb)$/);
    assert.match(
      e.CUDA_DEVICE_MEMORY_SHARED_CACHE ?? "",
      new RegExp(`^${dir}/vgpu/[0-9a-f-]{36}\\.cache$`),
    );
    const mounts = kubelet.allocations.get("default/mib/c0")?.mounts ?? [];
    const cacheDir = join(dir, "vgpu", "containers", `${created.metadata?.uid}_c0`);
    assert.deepEqual(
      mounts.map((m) => [m.container_path, m.host_path, m.read_only]),
      [
        [`${dir}/vgpu/libvgpu.so`, `${dir}/vgpu/libvgpu.so`, true],
        [`${dir}/vgpu`, cacheDir, false],
        ["/tmp/vgpulock", join(dir, "vgpulock"), false],
        ["/etc/ld.so.preload", `${dir}/vgpu/ld.so.preload`, true],
      ],
    );
    assert.ok(existsSync(cacheDir), "per-container cache dir on the host");
    assert.equal(
      statSync(join(dir, "vgpulock")).mode & 0o777,
      0o777,
      "lock dir any user can write",
    );
    const a = await annotations("mib");
    assert.match(a[Annotation.devicesAllocated] ?? "", /^GPU-(aaaa|bbbb),NVIDIA,3000,30:;$/);
    assert.equal(a[Annotation.devicesToAllocate], ";", "HAMi's lifecycle: served entries erased");
    assert.equal(a[Annotation.bindPhase], "success");
    await waitFor("allocated event", () =>
      published.find((ev) => ev.type === "allocated" && ev.pod.name === "mib"),
    );
    await core.deleteNamespacedPod({ namespace: "default", name: "mib", gracePeriodSeconds: 0 });
    await waitFor("released and cache dir removed", () =>
      !existsSync(cacheDir) &&
      published.some((ev) => ev.type === "released" && ev.pod.name === "mib")
        ? true
        : undefined,
    );
  });

  it("percentage, two GPUs, two containers and an init container each get their own slices", async () => {
    await place(
      pod(
        "multi",
        [
          { [RESOURCE]: "2", "nvidia.com/gpumem-percentage": "25" },
          { [RESOURCE]: "1", "nvidia.com/gpumem": "1000" },
        ],
        [{ [RESOURCE]: "1", "nvidia.com/gpumem": "500" }],
      ),
    );
    await running("multi");
    const first = envs("multi", "c0");
    const limits = Object.fromEntries(
      (first.NVIDIA_VISIBLE_DEVICES ?? "")
        .split(",")
        .map((uuid, i) => [uuid, first[`CUDA_DEVICE_MEMORY_LIMIT_${i}`]]),
    );
    assert.deepEqual(limits, { "GPU-aaaa": "10000m", "GPU-bbbb": "3840m" }, "25% of each GPU");
    assert.equal(envs("multi", "c1").CUDA_DEVICE_MEMORY_LIMIT_0, "1000m");
    assert.equal(envs("multi", "init0").CUDA_DEVICE_MEMORY_LIMIT_0, "500m");
    assert.equal((await annotations("multi"))[Annotation.bindPhase], "success");
  });

  it("oversubscription and disablecorelimit from the config reach the container", async () => {
    config = {
      ...config,
      nvidia: { ...config.nvidia, deviceMemoryScaling: 2, disablecorelimit: true },
    };
    await waitFor("the agent registers memory x 2", () =>
      view.candidate(NODE).devices.some((d) => d.memoryMiB >= 60_000) ? true : undefined,
    );
    await place(pod("over", [{ [RESOURCE]: "1", "nvidia.com/gpumem": "60000" }]));
    await running("over");
    assert.equal(envs("over").CUDA_OVERSUBSCRIBE, "true");
    assert.equal(envs("over").GPU_CORE_UTILIZATION_POLICY, "disable");
    assert.equal(
      envs("over").NVIDIA_VISIBLE_DEVICES,
      "GPU-aaaa",
      "only the A100 holds 60000 MiB x 2",
    );
    await core.deleteNamespacedPod({ namespace: "default", name: "over", gracePeriodSeconds: 0 });
    await waitFor("over released", () =>
      published.some((ev) => ev.type === "released" && ev.pod.name === "over") ? true : undefined,
    );
    config = {
      ...config,
      nvidia: { ...config.nvidia, deviceMemoryScaling: 1, disablecorelimit: false },
    };
    await waitFor("the agent registers memory x 1 again", () =>
      view.candidate(NODE).devices.every((d) => d.memoryMiB < 60_000) ? true : undefined,
    );
  });

  it("CUDA_DISABLE_CONTROL (a Go bool) gets none of the HAMi-core mounts and no host dir", async () => {
    const created = await place(
      pod(
        "nocontrol",
        [{ [RESOURCE]: "1", "nvidia.com/gpumem": "100" }],
        [],
        [{ name: "CUDA_DISABLE_CONTROL", value: "True" }],
      ),
    );
    await running("nocontrol");
    assert.deepEqual(kubelet.allocations.get("default/nocontrol/c0")?.mounts, []);
    assert.equal(envs("nocontrol").CUDA_DEVICE_MEMORY_LIMIT_0, "100m");
    const cacheDir = join(dir, "vgpu", "containers", `${created.metadata?.uid}_c0`);
    assert.ok(!existsSync(cacheDir), "no per-container host dir");
    await core.deleteNamespacedPod({
      namespace: "default",
      name: "nocontrol",
      gracePeriodSeconds: 0,
    });
  });

  it("refuses Allocate while HAMi-core is not installed, instead of letting containerd mount a directory", async () => {
    const library = join(dir, "vgpu", "libvgpu.so");
    await rename(library, `${library}.away`);
    try {
      const created = await place(pod("nocore", [{ [RESOURCE]: "1", "nvidia.com/gpumem": "100" }]));
      const message = await waitFor("the kubelet rejects nocore", () =>
        kubelet.rejected.get("default/nocore"),
      );
      assert.match(
        message,
        new RegExp(`HAMi-core is not installed on node ${NODE}: ${library} does not exist`),
      );
      const cacheDir = join(dir, "vgpu", "containers", `${created.metadata?.uid}_c0`);
      assert.ok(!existsSync(cacheDir), "a refused container leaves no host dir");
    } finally {
      await rename(`${library}.away`, library);
      await core.deleteNamespacedPod({
        namespace: "default",
        name: "nocore",
        gracePeriodSeconds: 0,
      });
    }
  });

  it("a GPU turning unhealthy is re-sent to the kubelet and re-registered", async () => {
    await writeFile(join(dir, "gpus.json"), gpuFile(false));
    await waitFor("allocatable 4", async () =>
      (await core.readNode({ name: NODE })).status?.allocatable?.[RESOURCE] === "4"
        ? true
        : undefined,
    );
    const raw =
      (await core.readNode({ name: NODE })).metadata?.annotations?.[Annotation.nodeRegister] ?? "";
    assert.deepEqual(
      decodeNodeDevices(raw).map((d) => d.healthy),
      [true, false],
    );
    await writeFile(join(dir, "gpus.json"), gpuFile(true));
    await waitFor("allocatable 8 again", async () =>
      (await core.readNode({ name: NODE })).status?.allocatable?.[RESOURCE] === "8"
        ? true
        : undefined,
    );
  });

  it("after a kubelet restart the agent registers again within 2 s and Allocate still works", async () => {
    const before = agent.plugin.registrations;
    const started = Date.now();
    await kubelet.restart();
    await waitFor(
      "re-registered",
      () => (agent.plugin.registrations > before ? true : undefined),
      2_000,
    );
    assert.ok(Date.now() - started < 2_000);
    await place(pod("after-restart", [{ [RESOURCE]: "1", "nvidia.com/gpumem": "100" }]));
    await running("after-restart");
    assert.equal(envs("after-restart").CUDA_DEVICE_MEMORY_LIMIT_0, "100m");
  });

  it("with NATS stopped Allocate is served from the API; when NATS returns events flow once", async () => {
    const apiBefore = agent.allocator.served.api;
    await nats.stop();
    await place(pod("no-nats", [{ [RESOURCE]: "1", "nvidia.com/gpumem": "200" }]));
    await running("no-nats");
    assert.equal(agent.allocator.served.api, apiBefore + 1, "served through the API path");
    await nats.start();
    await waitFor(
      "events delivered after NATS came back",
      () =>
        published.some((ev) => ev.type === "allocated" && ev.pod.name === "no-nats")
          ? true
          : undefined,
      20_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    const allocations = published.filter(
      (ev) => ev.type === "allocation" && ev.pod.name === "no-nats",
    );
    const allocated = published.filter(
      (ev) => ev.type === "allocated" && ev.pod.name === "no-nats",
    );
    assert.equal(allocations.length, 1);
    assert.equal(allocated.length, 1);
  });

  it("a stopping agent deletes its Lease: the scheduler stops placing pods here at once", async () => {
    await agent.stop();
    await waitFor("the view sees the node without an agent", () =>
      /no agent Lease hami-agent-agent-node: the node agent is not running/.test(
        view.candidate(NODE).unavailable ?? "",
      )
        ? true
        : undefined,
    );
    agent = startAgent();
    await agent.start();
    await waitFor("the node is a candidate again", () =>
      view.candidate(NODE).unavailable === undefined ? true : undefined,
    );
  });

  it("an agent killed between bind and Allocate gives the pod the right devices after restart", async () => {
    kubelet.holdAdmission();
    await place(
      pod("across-restart", [
        { [RESOURCE]: "1", "nvidia.com/gpumem": "300" },
        { [RESOURCE]: "1", "nvidia.com/gpumem": "400" },
      ]),
    );
    const planned = (await annotations("across-restart"))[Annotation.devicesToAllocate] ?? "";
    await agent.stop();
    agent = startAgent();
    await agent.start();
    const client = devicePluginClient(join(kubelet.pluginDir, PLUGIN_SOCKET));
    const first = await client.allocate({ container_requests: [{ devices_ids: ["GPU-aaaa-0"] }] });
    await agent.stop();
    agent = startAgent();
    await agent.start();
    const again = devicePluginClient(join(kubelet.pluginDir, PLUGIN_SOCKET));
    const second = await again.allocate({ container_requests: [{ devices_ids: ["GPU-aaaa-1"] }] });
    client.close();
    again.close();
    assert.equal(first.container_responses[0]?.envs.CUDA_DEVICE_MEMORY_LIMIT_0, "300m");
    assert.equal(
      second.container_responses[0]?.envs.CUDA_DEVICE_MEMORY_LIMIT_0,
      "400m",
      "c0 is not served twice",
    );
    const a = await annotations("across-restart");
    assert.equal(a[Annotation.devicesAllocated], planned);
    assert.equal(a[Annotation.devicesToAllocate], ";;");
    assert.equal(a[Annotation.bindPhase], "success");
    await core.deleteNamespacedPod({
      namespace: "default",
      name: "across-restart",
      gracePeriodSeconds: 0,
    });
    kubelet.resumeAdmission();
  });

  it("switch from HAMi: a HAMi-served pod is never Allocated again; a HAMi-bound one is served", async () => {
    kubelet.holdAdmission();
    // Exactly as HAMi's device plugin leaves them: served (to-allocate erased, allocated kept) ...
    const hamiPod = (name: string, annotations: Record<string, string>): V1Pod => ({
      metadata: { name, namespace: "default", annotations },
      spec: {
        nodeName: NODE,
        containers: [{ name: "c0", image: "cuda", resources: { limits: { [RESOURCE]: "1" } } }],
      },
    });
    await core.createNamespacedPod({
      namespace: "default",
      body: hamiPod("hami-served", {
        [Annotation.vgpuNode]: NODE,
        [Annotation.vgpuTime]: "1764374400",
        [Annotation.devicesToAllocate]: ";",
        [Annotation.devicesAllocated]: "GPU-bbbb,NVIDIA,15360,100:;",
        [Annotation.bindPhase]: "success",
      }),
    });
    const client = devicePluginClient(join(kubelet.pluginDir, PLUGIN_SOCKET));
    await agent.allocator.refresh();
    const refused = await client
      .allocate({ container_requests: [{ devices_ids: ["GPU-bbbb-0"] }] })
      .then(
        () => undefined,
        (error: unknown) => error as { details: string },
      );
    assert.match(refused?.details ?? "served", /no pod bound to this node is waiting for devices/);
    // ... and bound by HAMi's scheduler but not served yet: the plan in both annotations.
    await core.createNamespacedPod({
      namespace: "default",
      body: hamiPod("hami-bound", {
        [Annotation.vgpuNode]: NODE,
        [Annotation.vgpuTime]: "1764374400",
        [Annotation.devicesToAllocate]: "GPU-aaaa,NVIDIA,2000,0:;",
        [Annotation.devicesAllocated]: "GPU-aaaa,NVIDIA,2000,0:;",
        [Annotation.bindPhase]: "allocating",
      }),
    });
    await agent.allocator.refresh();
    const served = await client.allocate({ container_requests: [{ devices_ids: ["GPU-aaaa-0"] }] });
    assert.equal(served.container_responses[0]?.envs.CUDA_DEVICE_MEMORY_LIMIT_0, "2000m");
    const a = await annotations("hami-bound");
    assert.equal(a[Annotation.devicesToAllocate], ";");
    assert.equal(a[Annotation.devicesAllocated], "GPU-aaaa,NVIDIA,2000,0:;");
    assert.equal(a[Annotation.bindPhase], "success");
    assert.equal((await annotations("hami-served"))[Annotation.devicesToAllocate], ";");
    client.close();
    for (const name of ["hami-served", "hami-bound"])
      await core.deleteNamespacedPod({ namespace: "default", name, gracePeriodSeconds: 0 });
    kubelet.resumeAdmission();
  });

  it("a forged allocation event is never served: the API's plan is, a ghost pod is dropped", async () => {
    kubelet.holdAdmission();
    const victim = await place(pod("victim", [{ [RESOURCE]: "1", "nvidia.com/gpumem": "500" }]));
    // An anonymous client on the event stream, bypassing our bus (which would refuse to publish it).
    const nc = await connect({ servers: nats.url });
    const js = nc.jetstream();
    const forged = (uid: string, name: string, container: string) =>
      new TextEncoder().encode(
        JSON.stringify({
          type: "allocation",
          version: 1,
          time: "1970-01-01T00:00:00.000Z",
          id: `forged-${name}`,
          pod: { uid, namespace: "default", name },
          node: NODE,
          containers: [
            {
              name: container,
              devices: [{ uuid: "GPU-aaaa", type: "NVIDIA", memoryMiB: 999_999, cores: 0 }],
              controlDisabled: true,
            },
          ],
          reason: "bind",
        }),
      );
    const subject = `hami.events.allocation.${NODE}`;
    await js.publish(subject, forged(victim.metadata?.uid ?? "", "victim", "c0"));
    await js.publish(subject, forged("11111111-2222-4333-8444-555555555555", "ghost", "c0"));
    await js.publish(
      subject,
      forged("11111111-2222-4333-8444-666666666666", "escape", "../../../../tmp/x"),
    );
    await nc.drain();
    await waitFor("the forged events reached the agent", () =>
      agent.allocator.pending().some((p) => p.name === "ghost") ? true : undefined,
    );
    assert.ok(!agent.allocator.pending().some((p) => p.name === "escape"), "schema refuses it");
    const client = devicePluginClient(join(kubelet.pluginDir, PLUGIN_SOCKET));
    const answer = await client.allocate({ container_requests: [{ devices_ids: ["GPU-bbbb-1"] }] });
    const response = answer.container_responses[0];
    assert.equal(
      response?.envs.CUDA_DEVICE_MEMORY_LIMIT_0,
      "500m",
      "the API's plan, not the event's",
    );
    assert.ok(
      response?.mounts.some((m) => m.container_path === "/etc/ld.so.preload"),
      "HAMi-core stays on: the event's controlDisabled is not trusted",
    );
    const ghost = await client
      .allocate({ container_requests: [{ devices_ids: ["GPU-aaaa-1"] }] })
      .then(
        () => "served",
        (error: unknown) => (error as { details: string }).details,
      );
    assert.match(ghost, /no pod bound to this node is waiting for devices/);
    assert.ok(!agent.allocator.pending().some((p) => p.name === "ghost"), "dropped");
    client.close();
    await core.deleteNamespacedPod({ namespace: "default", name: "victim", gracePeriodSeconds: 0 });
    kubelet.resumeAdmission();
  });

  it("bad Allocate calls get clear errors and the agent keeps serving", async () => {
    const client = devicePluginClient(join(kubelet.pluginDir, PLUGIN_SOCKET));
    const refused = async (ids: string[]) => {
      try {
        await client.allocate({ container_requests: [{ devices_ids: ids }] });
      } catch (error) {
        return error as { code: number; details: string };
      }
      throw new Error(`Allocate ${ids.join(",")} succeeded`);
    };
    const unknown = await refused(["GPU-zzzz-0"]);
    assert.equal(unknown.code, status.INVALID_ARGUMENT);
    assert.match(unknown.details, /unknown or unhealthy device IDs: GPU-zzzz-0/);
    const nothing = await refused(["GPU-aaaa-0"]);
    assert.equal(nothing.code, status.FAILED_PRECONDITION);
    assert.match(nothing.details, /no pod bound to this node is waiting for devices/);
    kubelet.holdAdmission();
    await place(pod("wants-one", [{ [RESOURCE]: "1", "nvidia.com/gpumem": "100" }]));
    const tooMany = await refused(["GPU-aaaa-0", "GPU-aaaa-1", "GPU-bbbb-0"]);
    assert.match(
      tooMany.details,
      /no pending container asks for 3 device\(s\): default\/wants-one container c0 expects 1/,
    );
    const ok = await client.allocate({ container_requests: [{ devices_ids: ["GPU-bbbb-2"] }] });
    assert.equal(ok.container_responses[0]?.envs.CUDA_DEVICE_MEMORY_LIMIT_0, "100m");
    client.close();
    kubelet.resumeAdmission();
  });
});
