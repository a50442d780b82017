// One GPU node with its agent, for binding through the real binder: a SIMULATED kubelet (no real
// kubelet, no GPUs: A100s from a mock device file, HAMi-core a marker file), the real node agent on
// its device-plugin and PodResources sockets, and a scheduler view fed from the apiserver that
// already knows the node's GPUs. Used by allocation-identity.test.ts and bench:allocate.

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { agentSettings } from "../../src/cli/node.js";
import {
  defaultConfig,
  mutatePolicy,
  placementPolicy,
  type Config,
} from "../../src/config/index.js";
import { podApi } from "../../src/k8s/index.js";
import { fileSource, NodeAgent } from "../../src/node/index.js";
import {
  bind,
  ClusterView,
  feedView,
  type BinderDeps,
  type ExtenderBindingResult,
  type ViewFeed,
} from "../../src/scheduler/index.js";
import {
  createRegistry,
  nodeMetrics,
  schedulerMetrics,
  type Logger,
  type Registry,
} from "../../src/telemetry/index.js";
import { waitFor } from "./net.js";
import { installSimulatedHamiCore, SimulatedKubelet } from "./simulated-kubelet.js";

export interface AgentNode {
  kubelet: SimulatedKubelet;
  agent: NodeAgent;
  view: ClusterView;
  feed: ViewFeed;
  config: Config;
  /** The binder's dependencies over this node's view, with the bind guard or without it. */
  binder(guard: boolean): BinderDeps;
  /** Binds created pods to this node all at once, as kube-scheduler's parallel binds do. */
  bindAll(pods: V1Pod[], guard: boolean): Promise<ExtenderBindingResult[]>;
  /** The memory limit the kubelet's Allocate answer gave a default/ pod's container c0. */
  limitOf(name: string): string | undefined;
  /** Deletes default/ pods and waits until the kubelet and the view hold none of their devices. */
  removeAll(names: string[]): Promise<void>;
  stop(): Promise<void>;
}

/** The burst pods' one shape: a container c0 asking one GPU, with `memoryMiB` each. */
export function gpuPod(name: string, memoryMiB: number): V1Pod {
  return {
    metadata: { name, namespace: "default" },
    spec: {
      schedulerName: "hami-scheduler",
      containers: [
        {
          name: "c0",
          image: "cuda",
          resources: {
            limits: { "nvidia.com/gpu": "1", "nvidia.com/gpumem": String(memoryMiB) },
          },
        },
      ],
    },
  };
}

export interface AgentNodeOptions {
  kubeconfig: string;
  node: string;
  /** This many A100s (40,000 MiB each)... */
  gpus: number;
  split: number;
  /** ...unless the mock device file's entries are given (one GPU each). */
  devices?: Record<string, unknown>[];
  /** Cluster settings over the defaults (split and hookPath are set here). */
  nvidia?: Partial<Config["nvidia"]>;
}

export async function startAgentNode(
  kc: KubeConfig,
  options: AgentNodeOptions,
  deps: { log: Logger; registry: Registry },
): Promise<AgentNode> {
  const { node } = options;
  const dir = await mkdtemp(join(tmpdir(), "hami-agent-node-"));
  const devices =
    options.devices ??
    Array.from({ length: options.gpus }, (_, i) => ({
      uuid: `GPU-${node}-${String(i).padStart(4, "0")}`,
      type: "NVIDIA A100-SXM4-40GB",
      memoryMiB: 40_000,
      numa: 0,
    }));
  const gpus = devices.length;
  await writeFile(join(dir, "gpus.json"), JSON.stringify({ devices }));
  await installSimulatedHamiCore(dir);
  const base = defaultConfig();
  const config = {
    ...base,
    nvidia: { ...base.nvidia, ...options.nvidia, deviceSplitCount: options.split, hookPath: dir },
  };
  const kubelet = await SimulatedKubelet.start({ kubeconfig: options.kubeconfig, nodeName: node });
  const view = new ClusterView({ now: () => Date.now(), registerStaleMs: 0, requireLease: true });
  const feed = feedView(kc, view, { leaseNamespace: "kube-system", log: deps.log });
  await feed.synced;
  const agent = new NodeAgent({
    kc,
    node,
    source: fileSource(join(dir, "gpus.json"), node),
    pluginDir: kubelet.pluginDir,
    settings: () => agentSettings(config, join(dir, "vgpulock")),
    leaseNamespace: "kube-system",
    log: deps.log,
    podResourcesSocket: kubelet.podResources.socket,
    metrics: nodeMetrics(deps.registry),
  });
  await agent.start();
  await waitFor("view knows the node's GPUs", () =>
    view.candidate(node).devices.length === gpus ? true : undefined,
  );
  const core = kc.makeApiClient(CoreV1Api);
  const binder = (guard: boolean): BinderDeps => ({
    view,
    policy: () => ({ request: mutatePolicy(config), placement: placementPolicy(config) }),
    log: deps.log,
    metrics: schedulerMetrics(createRegistry(false), () => []),
    api: podApi(kc),
    clock: () => new Date(),
    ...(guard ? {} : { allocateWait: { waitMs: 0, expiryMs: 0 } }),
  });
  return {
    kubelet,
    agent,
    view,
    feed,
    config,
    binder,
    bindAll: (pods, guard) =>
      Promise.all(
        pods.map((p) =>
          bind(
            {
              PodName: p.metadata?.name ?? "",
              PodNamespace: "default",
              PodUID: p.metadata?.uid ?? "",
              Node: node,
            },
            binder(guard),
          ),
        ),
      ),
    limitOf: (name) =>
      kubelet.allocations.get(`default/${name}/c0`)?.envs.CUDA_DEVICE_MEMORY_LIMIT_0,
    removeAll: async (names) => {
      await Promise.all(
        names.map((name) =>
          core.deleteNamespacedPod({ namespace: "default", name, gracePeriodSeconds: 0 }),
        ),
      );
      await waitFor("devices freed", () =>
        kubelet.podResources.list().pod_resources.length === 0 && view.holders(node).length === 0
          ? true
          : undefined,
      );
    },
    stop: async () => {
      await agent.stop();
      await feed.stop();
      await kubelet.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
