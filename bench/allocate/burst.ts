// End to end on one node, with the bind guard and without: 50 same-shape pods (a different memory
// limit each) bound at once through the binder against the real kube-apiserver, a SIMULATED
// kubelet (no real kubelet, no GPUs) admitting them as they come, in creation order, and the real
// node agent serving Allocate over gRPC and checking every answer against the kubelet's
// PodResources. Per pod: from the bind call to its Allocate answered; and the pods that got another
// pod's limit.

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { agentSettings } from "../../src/cli/node.js";
import { defaultConfig, mutatePolicy, placementPolicy } from "../../src/config/index.js";
import { podApi } from "../../src/k8s/index.js";
import { fileSource, NodeAgent } from "../../src/node/index.js";
import { bind, ClusterView, feedView } from "../../src/scheduler/index.js";
import {
  createLogger,
  createRegistry,
  nodeMetrics,
  schedulerMetrics,
} from "../../src/telemetry/index.js";
import {
  installSimulatedHamiCore,
  SimulatedKubelet,
} from "../../test/helpers/simulated-kubelet.js";

const NODE = "burst-node";
const PODS = 50;
const GPUS = 13; // x split 4 = 52 slots
const log = createLogger({ level: "silent" });

const round = (ms: number): number => Math.round(ms);
function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

export async function burstOnOneNode(kc: KubeConfig, kubeconfig: string) {
  const core = kc.makeApiClient(CoreV1Api);
  const dir = await mkdtemp(join(tmpdir(), "hami-bench-burst-"));
  const devices = Array.from({ length: GPUS }, (_, i) => ({
    uuid: `GPU-burst-${i}`,
    type: "NVIDIA A100-SXM4-40GB",
    memoryMiB: 40_000,
    numa: 0,
  }));
  await writeFile(join(dir, "gpus.json"), JSON.stringify({ devices }));
  await installSimulatedHamiCore(dir);
  const base = defaultConfig();
  const config = { ...base, nvidia: { ...base.nvidia, deviceSplitCount: 4, hookPath: dir } };
  const kubelet = await SimulatedKubelet.start({ kubeconfig, nodeName: NODE });
  const view = new ClusterView({ now: () => Date.now(), registerStaleMs: 0, requireLease: true });
  const feed = feedView(kc, view, { leaseNamespace: "kube-system", log });
  const agent = new NodeAgent({
    kc,
    node: NODE,
    source: fileSource(join(dir, "gpus.json"), NODE),
    pluginDir: kubelet.pluginDir,
    settings: () => agentSettings(config, join(dir, "vgpulock")),
    leaseNamespace: "kube-system",
    log,
    podResourcesSocket: kubelet.podResources.socket,
    metrics: nodeMetrics(createRegistry(false)),
  });
  await feed.synced;
  await agent.start();
  while (view.candidate(NODE).devices.length < GPUS)
    await new Promise((resolve) => setTimeout(resolve, 50));

  async function run(guard: boolean) {
    const deps = {
      view,
      policy: () => ({ request: mutatePolicy(config), placement: placementPolicy(config) }),
      log,
      metrics: schedulerMetrics(createRegistry(false), () => []),
      api: podApi(kc),
      clock: () => new Date(),
      ...(guard ? {} : { allocateWait: { waitMs: 0, expiryMs: 0 } }),
    };
    const names = Array.from({ length: PODS }, (_, i) => `burst-${String(guard)}-${i}`);
    const pods = await Promise.all(
      names.map((name, i) =>
        core.createNamespacedPod({
          namespace: "default",
          body: {
            metadata: { name },
            spec: {
              containers: [
                {
                  name: "c0",
                  image: "cuda",
                  resources: {
                    limits: { "nvidia.com/gpu": "1", "nvidia.com/gpumem": `${100 + i}` },
                  },
                },
              ],
            },
          },
        }),
      ),
    );
    const mismatchesBefore = agent.verified.mismatch;
    const start = performance.now();
    const answered = new Map<string, number>();
    const binds = Promise.all(
      pods.map((p) =>
        bind(
          {
            PodName: p.metadata?.name ?? "",
            PodNamespace: "default",
            PodUID: p.metadata?.uid ?? "",
            Node: NODE,
          },
          deps,
        ),
      ),
    );
    while (answered.size < PODS && performance.now() - start < 120_000) {
      for (const name of names)
        if (!answered.has(name) && kubelet.allocations.has(`default/${name}/c0`))
          answered.set(name, performance.now() - start);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const failedBinds = (await binds).filter((a) => a.Error !== "").length;
    const seconds = (performance.now() - start) / 1000;
    const wrong = names.filter(
      (name, i) =>
        kubelet.allocations.get(`default/${name}/c0`)?.envs.CUDA_DEVICE_MEMORY_LIMIT_0 !==
        `${100 + i}m`,
    ).length;
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const result = {
      guard,
      pods: PODS,
      failed_binds: failedBinds,
      seconds_to_all_allocated: Math.round(seconds * 100) / 100,
      pods_allocated_per_s: Math.round((answered.size / seconds) * 10) / 10,
      bind_to_allocate_ms: {
        p50: round(percentile([...answered.values()], 50)),
        p99: round(percentile([...answered.values()], 99)),
      },
      got_another_pods_limit: wrong,
      mismatches_reported: agent.verified.mismatch - mismatchesBefore,
    };
    await Promise.all(
      names.map((name) =>
        core.deleteNamespacedPod({ namespace: "default", name, gracePeriodSeconds: 0 }),
      ),
    );
    while (kubelet.podResources.list().pod_resources.length > 0 || view.holders(NODE).length > 0)
      await new Promise((resolve) => setTimeout(resolve, 50));
    return result;
  }

  try {
    return {
      note: "50 same-shape pods, one node, binds all at once; simulated kubelet admits in creation order; real node agent, Allocate over gRPC, PodResources check",
      guard_on: await run(true),
      guard_off: await run(false),
    };
  } finally {
    await agent.stop();
    await feed.stop();
    await kubelet.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
