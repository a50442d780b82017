// End to end on one node, with the bind guard and without: 50 same-shape pods (a different memory
// limit each) bound at once through the binder against the real kube-apiserver, a SIMULATED
// kubelet (no real kubelet, no GPUs) admitting them as they come, in creation order, and the real
// node agent serving Allocate over gRPC and checking every answer against the kubelet's
// PodResources. Per pod: from the bind call to its Allocate answered; and the pods that got another
// pod's limit.

import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { createLogger, createRegistry } from "../../src/telemetry/index.js";
import { gpuPod, startAgentNode } from "../../test/helpers/agent-node.js";

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
  const node = await startAgentNode(
    kc,
    { kubeconfig, node: NODE, gpus: GPUS, split: 4 },
    { log, registry: createRegistry(false) },
  );
  const { agent } = node;

  async function run(guard: boolean) {
    const names = Array.from({ length: PODS }, (_, i) => `burst-${String(guard)}-${i}`);
    const pods = await Promise.all(
      names.map((name, i) =>
        core.createNamespacedPod({ namespace: "default", body: gpuPod(name, 100 + i) }),
      ),
    );
    const mismatchesBefore = agent.verified.mismatch;
    const start = performance.now();
    const answered = new Map<string, number>();
    const binds = node.bindAll(pods, guard);
    while (answered.size < PODS && performance.now() - start < 120_000) {
      for (const name of names)
        if (!answered.has(name) && node.limitOf(name) !== undefined)
          answered.set(name, performance.now() - start);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const failedBinds = (await binds).filter((a) => a.Error !== "").length;
    const seconds = (performance.now() - start) / 1000;
    const wrong = names.filter((name, i) => node.limitOf(name) !== `${100 + i}m`).length;
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
    await node.removeAll(names);
    return result;
  }

  try {
    return {
      note: "50 same-shape pods, one node, binds all at once; simulated kubelet admits in creation order; real node agent, Allocate over gRPC, PodResources check",
      guard_on: await run(true),
      guard_off: await run(false),
    };
  } finally {
    await node.stop();
  }
}
