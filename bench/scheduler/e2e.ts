// End to end: pods created at once go through the real kube-scheduler (the hami-scheduler profile
// of deploy/scheduler) and `hami scheduler` as its own process, on the real kube-apiserver, until
// every pod is bound. Nodes are SIMULATED (Node objects with GPU capacity and the register
// annotation a node agent writes; no kubelet, so bound pods stay Pending with their node).
// pods/s = pods / (first create sent -> last pod seen bound by a watch). The baseline sends the same
// number of pods without a GPU request through the same kube-scheduler: kube-scheduler binds those
// itself and never calls the extender, so it is this machine's ceiling for the path.

import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { startInformer, type KeepAliveKubeConfig } from "../../src/k8s/index.js";
import { startExtenderProcess } from "../../test/helpers/extender.js";
import { createSimulatedGpuNode, simulatedGpus } from "../../test/helpers/gpu-nodes.js";
import { freePort } from "../../test/helpers/net.js";
import { SCHEDULER_NAME, startScheduler } from "../../test/helpers/scheduler.js";
import { onControlPlane } from "./http.js";

const NODES = 20;
const PODS = 200;

function pod(name: string, gpu: boolean): V1Pod {
  const limits = gpu ? { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "1000" } : undefined;
  return {
    metadata: { name },
    spec: {
      schedulerName: SCHEDULER_NAME,
      containers: [
        { name: "c", image: "cuda", ...(limits === undefined ? {} : { resources: { limits } }) },
      ],
    },
  };
}

interface Burst {
  /** First create sent -> every create answered. */
  created_s: number;
  /** First create sent -> every pod seen bound. */
  bound_s: number;
  pods_per_s: number;
}

/** Creates `PODS` pods in a new namespace at once and waits until all are bound. */
async function burst(kc: KeepAliveKubeConfig, namespace: string, gpu: boolean): Promise<Burst> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  const bound = new Set<string>();
  let allBound = (): void => undefined;
  const done = new Promise<void>((resolve) => {
    allBound = resolve;
  });
  const seen = (p: V1Pod): void => {
    if (p.spec?.nodeName === undefined) return;
    bound.add(p.metadata?.name ?? "");
    if (bound.size === PODS) allBound();
  };
  const watch = startInformer<V1Pod>(
    kc,
    {
      path: `/api/v1/namespaces/${namespace}/pods`,
      list: () => core.listNamespacedPod({ namespace }),
    },
    { add: seen, update: seen },
  );
  await watch.synced;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: PODS }, (_, i) =>
      core.createNamespacedPod({ namespace, body: pod(`p-${i}`, gpu) }),
    ),
  );
  const created = performance.now();
  const timeout = setTimeout(allBound, 120_000);
  await done;
  clearTimeout(timeout);
  const seconds = (performance.now() - start) / 1000;
  await watch.stop();
  if (bound.size < PODS) throw new Error(`${namespace}: ${bound.size} of ${PODS} bound in 120 s`);
  return {
    created_s: Number(((created - start) / 1000).toFixed(2)),
    bound_s: Number(seconds.toFixed(2)),
    pods_per_s: Math.round(PODS / seconds),
  };
}

/** Mean time the extender took to answer each verb (its own histogram), in ms. */
async function extenderMeans(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const means: Record<string, number> = {};
  for (const verb of ["filter", "prioritize", "bind"]) {
    const sum = new RegExp(
      `hami_scheduler_latency_seconds_sum\\{verb="${verb}"\\} ([\\d.e-]+)`,
    ).exec(text);
    const count = new RegExp(
      `hami_scheduler_latency_seconds_count\\{verb="${verb}"\\} (\\d+)`,
    ).exec(text);
    if (sum !== null && count !== null)
      means[`${verb}_mean_ms`] = Number(((Number(sum[1]) / Number(count[1])) * 1000).toFixed(2));
  }
  return means;
}

export function endToEnd(): Promise<Record<string, unknown>> {
  return onControlPlane(async (kc, plane) => {
    const core = kc.makeApiClient(CoreV1Api);
    for (let i = 0; i < NODES; i++) {
      const node = `e2e-node-${i}`;
      await createSimulatedGpuNode(core, node, simulatedGpus(node, 8, { splitCount: 10 }));
    }
    const port = await freePort();
    const extender = await startExtenderProcess(plane, port);
    const scheduler = await startScheduler(plane, `http://127.0.0.1:${port}`);
    try {
      const rounds = [];
      for (let round = 0; round < 2; round++) {
        const gpu = await burst(kc, `gpu-${round}`, true);
        const plain = await burst(kc, `plain-${round}`, false);
        rounds.push({
          gpu,
          baseline: plain,
          ratio_to_baseline: Number((plain.bound_s / gpu.bound_s).toFixed(2)),
        });
      }
      return {
        extender_answers: await extenderMeans(port),
        note: `${PODS} pods created at once, ${NODES} simulated nodes x 8 GPUs (split 10); gpu: 1 GPU, 1000 MiB each, through the extender (filter, prioritize, bind); baseline: no GPU request, bound by kube-scheduler itself`,
        rounds,
      };
    } finally {
      await scheduler.stop();
      await extender.stop();
    }
  });
}
