// The webhook as its own service: in local mode (real etcd, kube-apiserver, kube-scheduler,
// nats-server; one SIMULATED GPU node: simulated kubelet, mock GPUs) `hami webhook` and
// `hami scheduler` are separate processes, as the chart's hami-webhook and hami-scheduler
// Deployments are. Killing the scheduler (SIGKILL) no longer stops GPU pods from being created:
// the webhook still admits and mutates them, and they are placed once the scheduler is back. With
// the webhook in the scheduler's process, a kill -9 made 96 of 100 creations fail.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CoreV1Api, KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { startLocal, type LocalCluster } from "../../src/local/index.js";
import { controlPlaneMissing } from "../helpers/control-plane.js";
import { waitFor } from "../helpers/net.js";
import { resolve } from "node:path";

const missing = controlPlaneMissing();
const MAIN = resolve(import.meta.dirname, "../../src/cli/main.ts");

describe(
  "the webhook as its own process (local mode, simulated GPU node)",
  { skip: missing },
  () => {
    let cluster: LocalCluster | undefined;
    let core: CoreV1Api;

    before(async () => {
      cluster = await startLocal({
        hami: [process.execPath, "--import", "tsx", MAIN],
        env: { ...process.env },
        nodes: [
          {
            name: "gpu-node",
            gpus: { uuidPrefix: "GPU-w", type: "Tesla T4", memoryMiB: 15_360, count: 2 },
          },
        ],
        splitCount: 20,
        say: () => undefined,
      });
      const kc = new KubeConfig();
      kc.loadFromFile(cluster.kubeconfig);
      core = kc.makeApiClient(CoreV1Api);
    });

    after(async () => {
      await cluster?.stop();
    });

    /** No schedulerName: the webhook sets hami-scheduler, which shows it mutated the pod. */
    const gpuPod = (name: string): V1Pod => ({
      metadata: { name },
      spec: {
        containers: [
          {
            name: "c0",
            image: "cuda",
            resources: { limits: { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "200" } },
          },
        ],
      },
    });
    const create = (name: string) =>
      core.createNamespacedPod({ namespace: "default", body: gpuPod(name) }).then(
        (pod) => pod,
        (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
      );

    it("kill -9 of the scheduler: GPU pods are still admitted and mutated, and placed once it is back", async () => {
      await cluster?.scheduler.crash();
      const names = Array.from({ length: 20 }, (_, i) => `while-down-${i}`);
      const created = await Promise.all(names.map(create));
      assert.deepEqual(
        created.map((c) => (c instanceof Error ? c.message : "created")),
        names.map(() => "created"),
      );
      for (const pod of created)
        assert.equal(
          pod instanceof Error ? undefined : pod.spec?.schedulerName,
          "hami-scheduler",
          "mutated by the webhook",
        );
      await cluster?.scheduler.start();
      await waitFor(
        "every pod placed and running",
        async () => {
          const pods = (await core.listNamespacedPod({ namespace: "default" })).items.filter((p) =>
            names.includes(p.metadata?.name ?? ""),
          );
          return pods.length === names.length && pods.every((p) => p.status?.phase === "Running")
            ? true
            : undefined;
        },
        120_000,
      );
    });

    it("the webhook down: GPU pod creation is refused (failurePolicy Fail), then works again", async () => {
      await cluster?.webhook.crash();
      const refused = await create("while-webhook-down");
      assert.ok(refused instanceof Error, "a GPU pod must not slip past unmutated");
      await cluster?.webhook.start();
      const pod = await waitFor("the webhook back", async () => {
        const made = await create("after-webhook");
        return made instanceof Error ? undefined : made;
      });
      assert.equal(pod.spec?.schedulerName, "hami-scheduler");
    });
  },
);
