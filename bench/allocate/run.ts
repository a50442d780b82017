// Allocate benchmark: latency of the kubelet's Allocate call over the device plugin's unix socket
// (real gRPC, real kube-apiserver from the test harness), when the agent's pod informer already
// delivered the pod, when only the allocation event did (an event is a hint: one API read confirms
// it before anything is served), and when neither did (a list of the node's pods first). Every path
// then records what was served on the pod (one API patch).
// The kubelet is the simulated one of the tests, holding its own admission so only this bench
// calls Allocate. transport_only: the same gRPC server answering at once, the floor under every
// path. Then a 50-pod burst end to end on one node, bind guard on and off (burst.ts).
// Prints one JSON document.

import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { Annotation, encodePodDevices, type PodDevices, nvidia } from "../../src/core/index.js";
import { KeepAliveKubeConfig, podApi } from "../../src/k8s/index.js";
import {
  Allocator,
  DevicePluginServer,
  devicePluginClient,
  PLUGIN_SOCKET,
  toDevices,
} from "../../src/node/index.js";
import { createLogger } from "../../src/telemetry/index.js";
import { burstOnOneNode } from "./burst.js";
import { controlPlaneMissing, startControlPlane } from "../../test/helpers/control-plane.js";
import {
  installSimulatedHamiCore,
  SimulatedKubelet,
} from "../../test/helpers/simulated-kubelet.js";

const NODE = "bench-node";
const PODS = Number(process.env.BENCH_PODS ?? 60);
const log = createLogger({ level: "silent" });

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}
const round = (ms: number): number => Math.round(ms * 100) / 100;
const summary = (samples: number[]) => ({
  p50_ms: round(percentile(samples, 50)),
  p99_ms: round(percentile(samples, 99)),
  mean_ms: round(samples.reduce((a, b) => a + b, 0) / samples.length),
});

const missing = controlPlaneMissing();
if (missing !== undefined) {
  process.stdout.write(`${JSON.stringify({ benchmark: "allocate", skipped: missing })}\n`);
  process.exit(0);
}

const plane = await startControlPlane();
const hook = await mkdtemp(join(tmpdir(), "hami-bench-hook-"));
await installSimulatedHamiCore(hook);
const kc = new KeepAliveKubeConfig();
kc.loadFromFile(plane.kubeconfig);
const core = kc.makeApiClient(CoreV1Api);
const kubelet = await SimulatedKubelet.start({ kubeconfig: plane.kubeconfig, nodeName: NODE });
kubelet.holdAdmission();
const devices = toDevices(
  [
    {
      index: 0,
      uuid: "GPU-bench-0",
      type: "NVIDIA-A100",
      memoryMiB: 40_000,
      numa: 0,
      healthy: true,
    },
  ],
  [],
  { splitCount: 10, memoryScaling: 1, coreScaling: 1 },
);
const allocator: Allocator = new Allocator({
  node: NODE,
  api: podApi(kc),
  listPods: async () =>
    (await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${NODE}` })).items,
  log,
  policy: () => ({
    hookPath: hook,
    memoryScaling: 1,
    disableCoreLimit: false,
    lockDir: join(hook, "vgpulock"),
  }),
  isKnownDevice: (id): boolean => plugin.isHealthy(id),
  vendor: nvidia,
  newId: () => randomUUID(),
  clock: () => new Date(),
});
const plugin: DevicePluginServer = new DevicePluginServer({
  dir: kubelet.pluginDir,
  socketName: PLUGIN_SOCKET,
  resourceName: "nvidia.com/gpu",
  log,
  allocate: (request) => allocator.allocate(request),
});
plugin.setDevices(devices);
await plugin.start();
const client = devicePluginClient(join(kubelet.pluginDir, PLUGIN_SOCKET));

async function boundPod(i: number, mode: string): Promise<{ pod: V1Pod; plan: PodDevices }> {
  const plan: PodDevices = [
    [{ uuid: "GPU-bench-0", type: "NVIDIA", memoryMiB: 100 + i, cores: 0 }],
  ];
  const pod = await core.createNamespacedPod({
    namespace: "default",
    body: {
      metadata: {
        name: `${mode}-${i}`,
        annotations: {
          [Annotation.vgpuNode]: NODE,
          [Annotation.devicesToAllocate]: encodePodDevices(plan),
          [Annotation.bindPhase]: "allocating",
        },
      },
      spec: {
        nodeName: NODE,
        containers: [
          { name: "c", image: "cuda", resources: { limits: { "nvidia.com/gpu": "1" } } },
        ],
      },
    },
  });
  return { pod, plan };
}

/** informer: the agent's pod informer saw the pod bound (the usual case); event: only the
 * allocation event arrived (one API read confirms it); api: neither (the node's pods are listed). */
type Mode = "informer" | "event" | "api";

async function run(mode: Mode): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < PODS; i++) {
    const { pod, plan } = await boundPod(i, mode);
    if (mode === "informer") allocator.fromPod(pod);
    if (mode === "event")
      allocator.fromEvent({
        type: "allocation",
        version: 1,
        time: new Date().toISOString(),
        id: `bench-${mode}-${i}`,
        pod: { uid: pod.metadata?.uid ?? "", namespace: "default", name: pod.metadata?.name ?? "" },
        node: NODE,
        containers: [{ name: "c", devices: plan[0] ?? [] }],
      });
    const start = performance.now();
    const answer = await client.allocate({
      container_requests: [{ devices_ids: [`GPU-bench-0-${i % 10}`] }],
    });
    samples.push(performance.now() - start);
    if (answer.container_responses[0]?.envs.CUDA_DEVICE_MEMORY_LIMIT_0 !== `${100 + i}m`)
      throw new Error(`${mode}-${i}: served the wrong pod`);
    await core.deleteNamespacedPod({
      namespace: "default",
      name: pod.metadata?.name ?? "",
      gracePeriodSeconds: 0,
    });
    await allocator.release(pod);
  }
  return samples;
}

/** The floor: the same gRPC server and client over a unix socket, answering at once with the same
 * shape of answer, nothing looked up, written or recorded. */
async function transportOnly(): Promise<ReturnType<typeof summary>> {
  const mount = (path: string) => ({ container_path: path, host_path: path, read_only: true });
  const fixed = {
    container_responses: [
      {
        envs: {
          NVIDIA_VISIBLE_DEVICES: "GPU-bench-0",
          CUDA_DEVICE_MEMORY_LIMIT_0: "100m",
          CUDA_DEVICE_SM_LIMIT: "0",
          CUDA_DEVICE_MEMORY_SHARED_CACHE: "/usr/local/vgpu/bench.cache",
        },
        mounts: ["/usr/local/vgpu/libvgpu.so", "/etc/ld.so.preload", "/tmp/vgpulock"].map(mount),
        devices: [],
        annotations: {},
        cdi_devices: [],
      },
    ],
  };
  const socket = "bench-empty.sock";
  const empty = new DevicePluginServer({
    dir: kubelet.pluginDir,
    socketName: socket,
    resourceName: "nvidia.com/gpu",
    log,
    allocate: () => Promise.resolve(fixed),
  });
  empty.setDevices(devices);
  await empty.start();
  const emptyClient = devicePluginClient(join(kubelet.pluginDir, socket));
  const samples: number[] = [];
  for (let i = 0; i < PODS * 4; i++) {
    const start = performance.now();
    await emptyClient.allocate({ container_requests: [{ devices_ids: ["GPU-bench-0-0"] }] });
    if (i >= PODS) samples.push(performance.now() - start);
  }
  emptyClient.close();
  await empty.stop();
  return summary(samples);
}

await run("informer");
await run("event");
await run("api");
const informer = await run("informer");
const event = await run("event");
const api = await run("api");
// What `hami node` does: the served log on disk before the answer, the API patch right after.
await allocator.openServedLog(join(hook, "state", `${NODE}.served.log`));
await run("informer");
const durableInformer = await run("informer");
const durableEvent = await run("event");
const durableApi = await run("api");
await allocator.close();
const transport = await transportOnly();
const burst = await burstOnOneNode(kc, plane.kubeconfig);
client.close();
await plugin.stop();
await kubelet.stop();
await plane.stop();
await rm(hook, { recursive: true, force: true });
const ratio = summary(api).p50_ms / Math.max(0.001, summary(event).p50_ms);
process.stdout.write(
  `${JSON.stringify(
    {
      benchmark: "allocate",
      machine: { cpus: cpus().length, node: process.version },
      pods_per_mode: PODS,
      note: "direct: every answer waits for one API patch recording what was served; served_log (what hami node runs): the record is written and fdatasync'd to the node's served log, the answer goes, the API patch follows. An event is only a hint, so a pod known from an event alone is read from the API first; the API path lists the node's pods",
      allocation_known_from_informer: summary(informer),
      allocation_by_event: summary(event),
      allocation_from_api: summary(api),
      served_log: {
        allocation_known_from_informer: summary(durableInformer),
        allocation_by_event: summary(durableEvent),
        allocation_from_api: summary(durableApi),
      },
      api_over_event_p50: Math.round(ratio * 100) / 100,
      transport_only: transport,
      served: allocator.served,
      burst_one_node: burst,
    },
    null,
    2,
  )}\n`,
);
process.exit(0);
