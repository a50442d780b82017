// End to end with the real kube-apiserver and the real kube-scheduler (profile hami-scheduler) calling
// our extender, `hami scheduler`, as a separate process. Nodes are simulated: Node objects with
// capacity and the register annotation a node agent would write; no kubelet runs, so bound pods stay
// Pending with a nodeName, which is all placement needs.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  V1MicroTime,
  type V1Pod,
} from "@kubernetes/client-node";
import { Annotation } from "../../src/core/index.js";
import { spawnHami } from "../helpers/cli.js";
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
const NODES = Array.from({ length: 10 }, (_, i) => `gpu-node-${String(i).padStart(2, "0")}`);
const MEMORY = [2000, 3000, 4000, 6000];
const CORES = [0, 10, 25, 30];

describe(
  "scheduler extender behind the real kube-scheduler (simulated nodes)",
  { skip: missing },
  () => {
    let plane: ControlPlane;
    let scheduler: RunningScheduler;
    let core: CoreV1Api;
    let extender: RunningExtender;
    let port: number;

    const startExtender = (): Promise<RunningExtender> => startExtenderProcess(plane, port);

    function gpuPod(namespace: string, i: number): V1Pod {
      const gpus = i % 10 === 0 ? 2 : 1;
      const limits = {
        "nvidia.com/gpu": String(gpus),
        "nvidia.com/gpumem": String(MEMORY[i % MEMORY.length]),
        "nvidia.com/gpucores": String(CORES[(i >> 2) % CORES.length]),
      };
      return {
        metadata: { name: `p-${String(i).padStart(3, "0")}`, namespace },
        spec: {
          schedulerName: SCHEDULER_NAME,
          containers: [{ name: "cuda", image: "cuda", resources: { limits } }],
        },
      };
    }

    const list = async (namespace: string) => (await core.listNamespacedPod({ namespace })).items;
    const unschedulable = (pod: V1Pod) =>
      pod.status?.conditions?.find(
        (c) => c.type === "PodScheduled" && c.status === "False" && c.reason === "Unschedulable",
      );

    /** Waits until every pod is bound or marked Unschedulable, and the picture holds still. */
    async function settle(namespace: string, count: number): Promise<V1Pod[]> {
      let previous = "";
      let stableSince = Date.now();
      return waitFor(
        `${count} pods bound or unschedulable in ${namespace}`,
        async () => {
          const pods = await list(namespace);
          const settled = pods.filter(
            (p) => p.spec?.nodeName !== undefined || unschedulable(p) !== undefined,
          );
          const picture = pods
            .map((p) => `${p.metadata?.name}:${p.spec?.nodeName ?? "-"}`)
            .join(",");
          if (picture !== previous) {
            previous = picture;
            stableSince = Date.now();
          }
          return settled.length === count && Date.now() - stableSince > 3_000 ? pods : undefined;
        },
        180_000,
      );
    }

    /** A pending pod must really fit nowhere: the extender's own explanation, node by node. */
    async function fitsNowhere(pod: V1Pod): Promise<void> {
      const url = `http://127.0.0.1:${port}/explain/${pod.metadata?.namespace}/${pod.metadata?.name}`;
      const explained = (await (await fetch(url)).json()) as {
        verdicts: { node: string; fits: boolean }[];
      };
      const fitting = explained.verdicts.filter((v) => v.fits).map((v) => v.node);
      assert.deepEqual(
        fitting,
        [],
        `${pod.metadata?.name} is pending but fits ${fitting.join(", ")}`,
      );
    }

    async function checkInvariants(pods: V1Pod[]): Promise<{ bound: number; pending: number }> {
      for (const [uuid, t] of deviceTotals(pods)) {
        assert.ok(t.memoryMiB <= 16_000, `${uuid}: ${t.memoryMiB} MiB allocated of 16000`);
        assert.ok(t.slots <= 4, `${uuid}: ${t.slots} slices of split 4`);
        assert.ok(t.cores <= 100, `${uuid}: ${t.cores}% cores`);
        assert.ok(uuid.startsWith(`GPU-${t.node}-`), `${uuid} is on the pod's own node ${t.node}`);
      }
      let bound = 0;
      let pending = 0;
      for (const pod of pods) {
        const annotations = pod.metadata?.annotations ?? {};
        if (pod.spec?.nodeName !== undefined) {
          bound++;
          assert.equal(
            annotations[Annotation.vgpuNode],
            pod.spec.nodeName,
            `${pod.metadata?.name} annotation node`,
          );
          assert.equal(annotations[Annotation.bindPhase], "allocating");
        } else {
          pending++;
          assert.match(
            unschedulable(pod)?.message ?? "",
            /Insufficient nvidia.com\/gpu|NodeUnfitPod|Card/,
          );
          await fitsNowhere(pod);
        }
      }
      return { bound, pending };
    }

    async function boundCount(): Promise<number> {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return Number(/hami_scheduler_binds_total\{result="bound"\} (\d+)/.exec(text)?.[1] ?? 0);
    }

    before(async () => {
      plane = await startControlPlane();
      const kc = new KubeConfig();
      kc.loadFromFile(plane.kubeconfig);
      core = kc.makeApiClient(CoreV1Api);
      for (const node of NODES) await createSimulatedGpuNode(core, node, simulatedGpus(node, 4));
      port = await freePort();
      extender = await startExtender();
      scheduler = await startScheduler(plane, `http://127.0.0.1:${port}`);
    });

    after(async () => {
      await scheduler?.stop();
      await extender?.stop();
      await plane?.stop();
    });

    it("200 pods created at once onto 10 nodes x 4 GPUs (split 4): no device over its limits, no pod bound twice", async () => {
      await core.createNamespace({ body: { metadata: { name: "run1" } } });
      await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          core.createNamespacedPod({ namespace: "run1", body: gpuPod("run1", i) }),
        ),
      );
      const pods = await settle("run1", 200);
      const { bound, pending } = await checkInvariants(pods);
      assert.ok(bound >= 100, `most pods placed (${bound} bound, ${pending} pending)`);
      assert.ok(pending > 0, "200 pods cannot all fit 160 slices");
      assert.equal(await boundCount(), bound, "one successful bind per bound pod");
    });

    it("deleting pods frees their devices at once", async () => {
      await Promise.all(
        (await list("run1")).map((p) =>
          core.deleteNamespacedPod({
            namespace: "run1",
            name: p.metadata?.name ?? "",
            gracePeriodSeconds: 0,
          }),
        ),
      );
      await waitFor("run1 empty", async () => (await list("run1")).length === 0, 60_000);
      await core.createNamespace({ body: { metadata: { name: "whole" } } });
      const whole = (name: string): V1Pod => ({
        metadata: { name },
        spec: {
          schedulerName: SCHEDULER_NAME,
          nodeSelector: { "kubernetes.io/hostname": NODES[0]! },
          containers: [
            {
              name: "c",
              image: "cuda",
              resources: {
                limits: {
                  "nvidia.com/gpu": "4",
                  "nvidia.com/gpumem-percentage": "100",
                  "nvidia.com/gpucores": "100",
                },
              },
            },
          ],
        },
      });
      await core.createNamespacedPod({ namespace: "whole", body: whole("first") });
      await waitFor(
        "first bound",
        async () =>
          (await core.readNamespacedPod({ namespace: "whole", name: "first" })).spec?.nodeName,
        30_000,
      );
      await core.createNamespacedPod({ namespace: "whole", body: whole("second") });
      await waitFor(
        "second unschedulable",
        async () =>
          unschedulable(await core.readNamespacedPod({ namespace: "whole", name: "second" })),
        30_000,
      );
      await core.deleteNamespacedPod({ namespace: "whole", name: "first", gracePeriodSeconds: 0 });
      await waitFor(
        "second bound after first was deleted",
        async () =>
          (await core.readNamespacedPod({ namespace: "whole", name: "second" })).spec?.nodeName,
        30_000,
      );
      await core.deleteNamespacedPod({ namespace: "whole", name: "second", gracePeriodSeconds: 0 });
    });

    it("a node whose agent Lease expired gets no pods; explain says why", async () => {
      const kc = new KubeConfig();
      kc.loadFromFile(plane.kubeconfig);
      const leases = kc.makeApiClient(CoordinationV1Api);
      const old = new V1MicroTime(Date.now() - 600_000);
      await leases.createNamespacedLease({
        namespace: "kube-system",
        body: {
          metadata: { name: `hami-agent-${NODES[1]}` },
          spec: { holderIdentity: "agent", leaseDurationSeconds: 40, renewTime: old },
        },
      });
      await core.createNamespacedPod({
        namespace: "whole",
        body: {
          metadata: { name: "pinned" },
          spec: {
            schedulerName: SCHEDULER_NAME,
            nodeSelector: { "kubernetes.io/hostname": NODES[1]! },
            containers: [
              {
                name: "c",
                image: "cuda",
                resources: { limits: { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "100" } },
              },
            ],
          },
        },
      });
      const pod = await waitFor(
        "pinned unschedulable",
        async () =>
          unschedulable(await core.readNamespacedPod({ namespace: "whole", name: "pinned" })),
        30_000,
      );
      assert.match(pod.message ?? "", /NodeUnavailable: agent Lease expired/);
      const explained = spawnHami([
        "explain",
        "whole/pinned",
        "--scheduler",
        `http://127.0.0.1:${port}`,
      ]);
      const result = await explained.exited;
      assert.equal(result.code, 0, result.stderr);
      assert.match(
        result.stdout,
        new RegExp(`${NODES[1]}\\tno\\t-\\tNodeUnavailable: agent Lease expired \\d+ s ago`),
      );
      assert.match(result.stdout, new RegExp(`${NODES[0]}\\tyes\\t`));
    });

    it("the same invariants hold when the extender is restarted in the middle", async () => {
      await core.createNamespace({ body: { metadata: { name: "run2" } } });
      await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          core.createNamespacedPod({ namespace: "run2", body: gpuPod("run2", i) }),
        ),
      );
      await waitFor(
        "some pods bound",
        async () =>
          (await list("run2")).filter((p) => p.spec?.nodeName).length >= 60 ? true : undefined,
        120_000,
      );
      await extender.stop();
      extender = await startExtender();
      const pods = await settle("run2", 200);
      const { bound, pending } = await checkInvariants(pods);
      assert.ok(bound >= 100, `${bound} bound, ${pending} pending`);
    });
  },
);
