// Switching a cluster from HAMi to hami-ts, on the real kube-apiserver and the real kube-scheduler
// (its default plugins on) calling `hami scheduler`. Nodes carry the register annotation exactly as
// HAMi's agents wrote it (v2.8+ JSON and the v2.7 comma form), a pod runs as HAMi's device plugin
// left it (to-allocate erased, allocated kept, bind-phase success). No kubelet and no GPU exist:
// nodes are simulated, and placement is all this test reads.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CoreV1Api, KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { Annotation, decodePodDevices } from "../../src/core/index.js";
import { MERGE_PATCH } from "../../src/k8s/index.js";
import {
  controlPlaneMissing,
  startControlPlane,
  type ControlPlane,
} from "../helpers/control-plane.js";
import { startExtenderProcess, type RunningExtender } from "../helpers/extender.js";
import { createSimulatedGpuNode, deviceTotals, simulatedGpus } from "../helpers/gpu-nodes.js";
import { freePort, waitFor } from "../helpers/net.js";
import { SCHEDULER_NAME, startScheduler, type RunningScheduler } from "../helpers/scheduler.js";

const missing = controlPlaneMissing();
const T4 = 15_360;

/** HAMi >= v2.8's MarshalNodeDevices bytes for two T4s (zero values omitted, as Go writes them). */
const HAMI_JSON =
  '[{"id":"GPU-json-0","count":10,"devmem":15360,"devcore":100,"type":"NVIDIA-Tesla T4","mode":"hami-core","health":true},' +
  '{"id":"GPU-json-1","index":1,"count":10,"devmem":15360,"devcore":100,"type":"NVIDIA-Tesla T4","mode":"hami-core","health":true}]';
/** HAMi <= v2.7's EncodeNodeDevices bytes: 9 comma fields per device, each ending in ':'. */
const HAMI_LEGACY =
  "GPU-legacy-0,10,15360,100,NVIDIA-Tesla T4,0,true,0,hami-core:GPU-legacy-1,10,15360,100,NVIDIA-Tesla T4,0,true,1,hami-core:";

describe(
  "switch from HAMi (real kube-apiserver + kube-scheduler, simulated nodes)",
  { skip: missing },
  () => {
    let plane: ControlPlane;
    let core: CoreV1Api;
    let extender: RunningExtender;
    let scheduler: RunningScheduler;
    let port: number;

    const gpuPod = (namespace: string, name: string, limits: Record<string, string>): V1Pod => ({
      metadata: { name, namespace },
      spec: {
        schedulerName: SCHEDULER_NAME,
        containers: [{ name: "cuda", image: "cuda", resources: { limits } }],
      },
    });

    const unschedulable = (pod: V1Pod) =>
      pod.status?.conditions?.find(
        (c) => c.type === "PodScheduled" && c.reason === "Unschedulable",
      );

    const settled = (namespace: string, name: string) =>
      waitFor(
        `${namespace}/${name} bound or unschedulable`,
        async () => {
          const pod = await core.readNamespacedPod({ namespace, name });
          return pod.spec?.nodeName !== undefined || unschedulable(pod) !== undefined
            ? pod
            : undefined;
        },
        60_000,
      );

    const devicesOf = (pod: V1Pod) =>
      decodePodDevices(pod.metadata?.annotations?.[Annotation.devicesAllocated] ?? "", "allocated")
        .flat()
        .map((d) => d.uuid);

    before(async () => {
      plane = await startControlPlane();
      const kc = new KubeConfig();
      kc.loadFromFile(plane.kubeconfig);
      core = kc.makeApiClient(CoreV1Api);
      const twoT4 = (node: string) =>
        simulatedGpus(node, 2, { memoryMiB: T4, splitCount: 10, type: "NVIDIA-Tesla T4" });
      await createSimulatedGpuNode(core, "hami-json", twoT4("json"), HAMI_JSON);
      await createSimulatedGpuNode(core, "hami-legacy", twoT4("legacy"), HAMI_LEGACY);
      await core.createNamespace({ body: { metadata: { name: "team" } } });
      // Running since before the switch, served by HAMi's plugin: the whole GPU-json-0, and nearly
      // all of the node's CPU and memory, so kube-scheduler's own scores (LeastAllocated,
      // BalancedAllocation) prefer the other node; binpack must still choose this one.
      const running = await core.createNamespacedPod({
        namespace: "team",
        body: {
          metadata: {
            name: "served-by-hami",
            namespace: "team",
            annotations: {
              [Annotation.vgpuNode]: "hami-json",
              [Annotation.vgpuTime]: "1764374400",
              [Annotation.devicesToAllocate]: ";",
              [Annotation.devicesAllocated]: "GPU-json-0,NVIDIA,15360,100:;",
              [Annotation.bindPhase]: "success",
            },
          },
          spec: {
            nodeName: "hami-json",
            schedulerName: SCHEDULER_NAME,
            containers: [
              {
                name: "cuda",
                image: "cuda",
                resources: {
                  requests: { cpu: "62", memory: "250Gi" },
                  limits: { "nvidia.com/gpu": "1" },
                },
              },
            ],
          },
        },
      });
      await core.patchNamespacedPodStatus(
        {
          namespace: "team",
          name: running.metadata?.name ?? "",
          body: { status: { phase: "Running" } },
        },
        MERGE_PATCH,
      );
      port = await freePort();
      extender = await startExtenderProcess(plane, port);
      scheduler = await startScheduler(plane, `http://127.0.0.1:${port}`);
    });

    after(async () => {
      await scheduler?.stop();
      await extender?.stop();
      await plane?.stop();
    });

    it("HAMi-registered nodes are usable, and the node policy (binpack) decides over kube-scheduler's scores", async () => {
      await core.createNamespacedPod({
        namespace: "team",
        body: gpuPod("team", "first", { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "4000" }),
      });
      const first = await settled("team", "first");
      assert.equal(first.spec?.nodeName, "hami-json", "binpack: the node already in use");
      assert.deepEqual(devicesOf(first), ["GPU-json-1"], "never the GPU the HAMi pod holds");
      const events = await waitFor("HAMi's pod events", async () => {
        const reasons = (
          await core.listNamespacedEvent({
            namespace: "team",
            fieldSelector: "involvedObject.name=first",
          })
        ).items.map((e) => e.reason ?? "");
        return reasons.includes("FilteringSucceed") && reasons.includes("BindingSucceed")
          ? reasons
          : undefined;
      });
      assert.equal(events.filter((r) => r === "BindingSucceed").length, 1);
    });

    it("new pods never double-book a GPU held by a HAMi-served pod", async () => {
      const names = Array.from({ length: 8 }, (_, i) => `p${i}`);
      await Promise.all(
        names.map((name) =>
          core.createNamespacedPod({
            namespace: "team",
            body: gpuPod("team", name, { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "4000" }),
          }),
        ),
      );
      for (const name of names) await settled("team", name);
      const pods = (await core.listNamespacedPod({ namespace: "team" })).items;
      const totals = deviceTotals(pods);
      for (const [uuid, t] of totals) assert.ok(t.memoryMiB <= T4, `${uuid}: ${t.memoryMiB} MiB`);
      assert.deepEqual(totals.get("GPU-json-0"), {
        memoryMiB: T4,
        cores: 100,
        slots: 1,
        node: "hami-json",
      });
      const placed = pods.filter((p) => p.spec?.nodeName !== undefined).length;
      assert.equal(placed, 10, "the 9 new pods fit on the three free T4s (3 x 3 x 4000 MiB)");
    });

    it("a namespace ResourceQuota on limits.nvidia.com/gpumem is enforced, and shown in the metrics", async () => {
      await core.createNamespace({ body: { metadata: { name: "capped" } } });
      await core.createNamespacedResourceQuota({
        namespace: "capped",
        body: {
          metadata: { name: "gpu" },
          spec: { hard: { "limits.nvidia.com/gpumem": "3000" } },
        },
      });
      await core.createNamespacedPod({
        namespace: "capped",
        body: gpuPod("capped", "fits", { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "1000" }),
      });
      assert.ok((await settled("capped", "fits")).spec?.nodeName);
      await core.createNamespacedPod({
        namespace: "capped",
        body: gpuPod("capped", "over", { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "2500" }),
      });
      const over = await settled("capped", "over");
      assert.equal(over.spec?.nodeName, undefined);
      assert.match(
        unschedulable(over)?.message ?? "",
        /ResourceQuotaNotFit: namespace capped quota limits.nvidia.com\/gpumem: used 1000 MiB \+ asked 2500 MiB > limit 3000 MiB/,
      );
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      assert.match(
        metrics,
        /hami_resource_quota_used\{namespace="capped",quota_name="nvidia.com\/gpumem",limit="3000"\} 1000/,
      );
      assert.match(
        metrics,
        /hami_resource_quota_limit\{namespace="capped",quota_name="nvidia.com\/gpumem"\} 3000/,
      );
    });
  },
);
