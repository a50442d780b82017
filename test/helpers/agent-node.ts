// One GPU node with its agent, for binding through the real binder: a SIMULATED kubelet (no real
// kubelet, no GPUs: A100s from a mock device file, HAMi-core a marker file), the real node agent on
// its device-plugin and PodResources sockets, and a scheduler view fed from the apiserver that
// already knows the node's GPUs. Used by allocation-identity.test.ts and bench:allocate.

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
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
  ClusterView,
  feedView,
  type BinderDeps,
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
  stop(): Promise<void>;
}

export async function startAgentNode(
  kc: KubeConfig,
  options: { kubeconfig: string; node: string; gpus: number; split: number },
  deps: { log: Logger; registry: Registry },
): Promise<AgentNode> {
  const { node, gpus } = options;
  const dir = await mkdtemp(join(tmpdir(), "hami-agent-node-"));
  const devices = Array.from({ length: gpus }, (_, i) => ({
    uuid: `GPU-${node}-${String(i).padStart(4, "0")}`,
    type: "NVIDIA A100-SXM4-40GB",
    memoryMiB: 40_000,
    numa: 0,
  }));
  await writeFile(join(dir, "gpus.json"), JSON.stringify({ devices }));
  await installSimulatedHamiCore(dir);
  const base = defaultConfig();
  const config = {
    ...base,
    nvidia: { ...base.nvidia, deviceSplitCount: options.split, hookPath: dir },
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
  return {
    kubelet,
    agent,
    view,
    feed,
    config,
    binder: (guard) => ({
      view,
      policy: () => ({ request: mutatePolicy(config), placement: placementPolicy(config) }),
      log: deps.log,
      metrics: schedulerMetrics(createRegistry(false), () => []),
      api: podApi(kc),
      clock: () => new Date(),
      ...(guard ? {} : { allocateWait: { waitMs: 0, expiryMs: 0 } }),
    }),
    stop: async () => {
      await agent.stop();
      await feed.stop();
      await kubelet.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
