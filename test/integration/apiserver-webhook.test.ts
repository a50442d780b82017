// The webhook behind a real kube-apiserver (+ etcd): registered with a MutatingWebhookConfiguration
// whose caBundle comes from our certgen, called by the apiserver over TLS for real pod creations.

import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ApiException, CoreV1Api, KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { ensureLocalCerts } from "../../src/certs/index.js";
import { MemoryBus } from "../../src/events/index.js";
import type { RunningServer } from "../../src/webhook/index.js";
import {
  controlPlaneMissing,
  kubectl,
  startControlPlane,
  type ControlPlane,
} from "../helpers/control-plane.js";
import { registerWebhook } from "../../src/local/index.js";
import { waitFor } from "../helpers/net.js";
import { serveWebhook } from "../helpers/webhook.js";

const missing = controlPlaneMissing();
if (missing !== undefined) process.stdout.write(`# skipping kube-apiserver tests: ${missing}\n`);

/** The apiserver's Status for a refused request. */
function refusal(error: unknown): { code: number; message: string } {
  assert.ok(error instanceof ApiException, String(error));
  const status = JSON.parse(String(error.body)) as { code: number; message: string };
  return { code: status.code, message: status.message };
}

function gpuPod(name: string, extra: Partial<V1Pod["spec"]> = {}): V1Pod {
  return {
    metadata: { name },
    spec: {
      containers: [
        { name: "main", image: "cuda:12", resources: { limits: { "nvidia.com/gpu": "1" } } },
      ],
      ...extra,
    },
  };
}

describe("webhook behind a real kube-apiserver", { skip: missing }, () => {
  let plane: ControlPlane;
  let webhook: RunningServer;
  let dir: string;
  let core: CoreV1Api;
  const bus = new MemoryBus();

  before(async () => {
    plane = await startControlPlane();
    dir = await mkdtemp(join(tmpdir(), "hami-apiserver-webhook-"));
    await ensureLocalCerts({ dir, hosts: ["127.0.0.1"], now: new Date() });
    webhook = (await serveWebhook(dir, { bus })).server;
    const kc = new KubeConfig();
    kc.loadFromFile(plane.kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
    await registerWebhook(
      kc,
      `https://127.0.0.1:${webhook.port}/mutate`,
      await readFile(join(dir, "ca.crt"), "utf8"),
    );
    await core.createNamespace({
      body: { metadata: { name: "skipped", labels: { "hami.io/webhook": "ignore" } } },
    });
    await waitFor(
      "webhook active",
      async () => {
        const probe = await core.createNamespacedPod({
          namespace: "default",
          body: gpuPod("probe"),
          dryRun: "All",
        });
        return probe.spec?.schedulerName === "hami-scheduler";
      },
      30_000,
    );
  });

  after(async () => {
    await webhook?.close();
    await plane?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("a GPU pod is stored mutated: exclusive defaults, hami-scheduler, change annotation", async () => {
    const created = await core.createNamespacedPod({ namespace: "default", body: gpuPod("gpu-1") });
    const stored = await core.readNamespacedPod({ namespace: "default", name: "gpu-1" });
    const shown = JSON.parse(
      await kubectl(plane, ["get", "pod", "gpu-1", "--namespace", "default", "--output", "json"]),
    ) as V1Pod;
    for (const pod of [created, stored, shown]) {
      assert.equal(pod.spec?.schedulerName, "hami-scheduler");
      assert.deepEqual(pod.spec?.containers[0]?.resources?.limits, {
        "nvidia.com/gpu": "1",
        "nvidia.com/gpumem-percentage": "100",
        "nvidia.com/gpucores": "100",
      });
      assert.deepEqual(
        pod.spec?.containers[0]?.resources?.requests,
        pod.spec?.containers[0]?.resources?.limits,
      );
      assert.match(pod.metadata?.annotations?.["hami.io/webhook-changes"] ?? "", /: exclusive\)/);
    }
    const events = bus.history().filter((event) => event.pod.name === "gpu-1");
    assert.deepEqual(
      events.map((event) => [event.type, event.reason, event.pod.namespace]),
      [["admission", "mutated", "default"]],
    );
  });

  it("a privileged GPU pod is refused with the webhook's reason", async () => {
    const body = gpuPod("priv");
    body.spec!.containers[0]!.securityContext = { privileged: true };
    await assert.rejects(
      core.createNamespacedPod({ namespace: "default", body }),
      (error: unknown) => {
        const { code, message } = refusal(error);
        assert.equal(code, 403);
        assert.match(
          message,
          /^admission webhook "vgpu\.hami\.io" denied the request: \[PrivilegedContainer\] spec\.containers\[0\] \(main\) is privileged/,
        );
        return true;
      },
    );
  });

  it("an invalid value is refused naming field and value", async () => {
    const body = gpuPod("bad");
    body.spec!.containers[0]!.resources = {
      limits: { "nvidia.com/gpu": "1", "nvidia.com/gpumem-percentage": "150" },
    };
    await assert.rejects(
      core.createNamespacedPod({ namespace: "default", body }),
      (error: unknown) => {
        const { code, message } = refusal(error);
        assert.equal(code, 400);
        assert.equal(
          message,
          'admission webhook "vgpu.hami.io" denied the request: [InvalidGPUMemoryPercentage] spec.containers[0].resources.limits[nvidia.com/gpumem-percentage]="150": GPU memory percentage must be an integer 0..100',
        );
        return true;
      },
    );
  });

  it("namespaces and pods labelled hami.io/webhook=ignore are never sent to the webhook", async () => {
    const inSkipped = await core.createNamespacedPod({
      namespace: "skipped",
      body: gpuPod("plain"),
    });
    assert.equal(inSkipped.spec?.schedulerName, "default-scheduler");
    const labelled = gpuPod("labelled");
    labelled.metadata!.labels = { "hami.io/webhook": "ignore" };
    const created = await core.createNamespacedPod({ namespace: "default", body: labelled });
    assert.equal(created.spec?.schedulerName, "default-scheduler");
  });
});
