// `hami local --kubeconfig FILE`: hami's webhook, extender, a kube-scheduler with the
// hami-scheduler profile and node agents on SIMULATED GPU nodes (simulated kubelets, mock GPUs),
// run against an existing cluster. The harness's real kube-apiserver stands in for that cluster;
// after stop() it holds nothing of hami's any more.

import assert from "node:assert/strict";
import { resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  AdmissionregistrationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  type V1Pod,
} from "@kubernetes/client-node";
import { SIMULATED_TAINT, startLocal, type LocalCluster } from "../../src/local/index.js";
import {
  controlPlaneMissing,
  startControlPlane,
  type ControlPlane,
} from "../helpers/control-plane.js";
import { waitFor } from "../helpers/net.js";

const missing = controlPlaneMissing();
const MAIN = resolve(import.meta.dirname, "../../src/cli/main.ts");
const NODE = "hami-local-sim";

describe(
  "hami local --kubeconfig (an existing cluster, simulated GPU nodes)",
  { skip: missing },
  () => {
    let plane: ControlPlane;
    let cluster: LocalCluster | undefined;
    let kc: KubeConfig;
    let core: CoreV1Api;

    const gpuPod = (name: string, tolerate: boolean): V1Pod => ({
      metadata: { name },
      spec: {
        ...(tolerate ? { tolerations: [SIMULATED_TAINT] } : {}),
        containers: [
          {
            name: "c0",
            image: "cuda",
            resources: { limits: { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "1000" } },
          },
        ],
      },
    });

    before(async () => {
      plane = await startControlPlane();
      kc = new KubeConfig();
      kc.loadFromFile(plane.kubeconfig);
      core = kc.makeApiClient(CoreV1Api);
      // Something of the cluster's own, which hami must leave alone.
      await core.createNode({ body: { metadata: { name: "their-node" } } });
      cluster = await startLocal({
        hami: [process.execPath, "--import", "tsx", MAIN],
        env: { ...process.env },
        nodes: [
          {
            name: NODE,
            gpus: { uuidPrefix: "GPU-sim", type: "Tesla T4", memoryMiB: 15_360, count: 2 },
          },
        ],
        existing: { kubeconfig: plane.kubeconfig, webhookHost: "127.0.0.1" },
        say: () => undefined,
      });
    });

    after(async () => {
      await cluster?.stop();
      await plane?.stop();
    });

    it("the simulated node is tainted; a GPU pod tolerating it is admitted, placed and served there", async () => {
      const node = await core.readNode({ name: NODE });
      assert.deepEqual(
        node.spec?.taints?.map((t) => ({ key: t.key, value: t.value, effect: t.effect })),
        [SIMULATED_TAINT],
      );
      const created = await core.createNamespacedPod({
        namespace: "default",
        body: gpuPod("tolerant", true),
      });
      assert.equal(created.spec?.schedulerName, "hami-scheduler", "mutated by hami's webhook");
      const placed = await waitFor(
        "tolerant running",
        async () => {
          const pod = await core.readNamespacedPod({ namespace: "default", name: "tolerant" });
          return pod.status?.phase === "Running" ? pod : undefined;
        },
        60_000,
      );
      assert.equal(placed.spec?.nodeName, NODE);
      assert.match(placed.metadata?.annotations?.["hami.io/bind-phase"] ?? "", /success/);
    });

    it("stop() leaves the cluster as it was: no webhook, no simulated node, no pod or Lease of ours", async () => {
      await cluster?.stop();
      cluster = undefined;
      const webhooks = await kc
        .makeApiClient(AdmissionregistrationV1Api)
        .listMutatingWebhookConfiguration();
      assert.deepEqual(
        webhooks.items.map((w) => w.metadata?.name),
        [],
      );
      assert.deepEqual(
        (await core.listNode()).items.map((n) => n.metadata?.name),
        ["their-node"],
      );
      assert.deepEqual(
        (await core.listNamespacedPod({ namespace: "default" })).items.map((p) => p.metadata?.name),
        [],
      );
      const leases = await kc
        .makeApiClient(CoordinationV1Api)
        .listNamespacedLease({ namespace: "kube-system" });
      assert.deepEqual(
        leases.items.map((l) => l.metadata?.name).filter((n) => n?.startsWith("hami-")),
        [],
      );
    });
  },
);
