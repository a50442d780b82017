// certgen create/patch against a real kube-apiserver, ending with the apiserver calling the webhook
// over TLS with the certificate from the Secret and the CA from the patched caBundle.

import assert from "node:assert/strict";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  KubeConfig,
  type V1Secret,
} from "@kubernetes/client-node";
import { certgenCreate, serviceHosts } from "../../src/cli/certgen-k8s.js";
import type { RunningServer } from "../../src/webhook/index.js";
import { runHami } from "../helpers/cli.js";
import {
  controlPlaneMissing,
  startControlPlane,
  type ControlPlane,
} from "../helpers/control-plane.js";
import { waitFor } from "../helpers/net.js";
import { serveWebhook } from "../helpers/webhook.js";

const missing = controlPlaneMissing();
const DAY = 24 * 3600 * 1000;
const NAMESPACE = "kube-system";
const SECRET = "hami-webhook-tls";
const HOSTS = serviceHosts("hami-scheduler", NAMESPACE, ["127.0.0.1"]);

function text(secret: V1Secret, key: string): string {
  return Buffer.from(secret.data?.[key] ?? "", "base64").toString("utf8");
}

describe("certgen against a real kube-apiserver", { skip: missing }, () => {
  let plane: ControlPlane;
  let kc: KubeConfig;
  let core: CoreV1Api;
  const read = () => core.readNamespacedSecret({ namespace: NAMESPACE, name: SECRET });

  before(async () => {
    plane = await startControlPlane();
    kc = new KubeConfig();
    kc.loadFromFile(plane.kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
  });
  after(async () => {
    await plane?.stop();
  });

  it("create writes a kubernetes.io/tls Secret covering every service name, with compatibility keys", async () => {
    const result = await certgenCreate({
      kc,
      namespace: NAMESPACE,
      secretName: SECRET,
      hosts: HOSTS,
      now: new Date(),
    });
    assert.equal(result.written, true);
    const secret = await read();
    assert.equal(secret.type, "kubernetes.io/tls");
    assert.deepEqual(Object.keys(secret.data ?? {}).sort(), [
      "ca",
      "ca.crt",
      "ca.key",
      "cert",
      "key",
      "tls.crt",
      "tls.key",
    ]);
    const cert = new X509Certificate(text(secret, "tls.crt"));
    assert.equal(
      cert.subjectAltName,
      "DNS:hami-scheduler, DNS:hami-scheduler.kube-system, DNS:hami-scheduler.kube-system.svc, DNS:hami-scheduler.kube-system.svc.cluster.local, IP Address:127.0.0.1",
    );
    assert.ok(cert.verify(new X509Certificate(text(secret, "ca.crt")).publicKey));
    assert.equal(text(secret, "cert"), text(secret, "tls.crt"));
  });

  it("create is idempotent while valid; renews near expiry and on SAN change, keeping the CA", async () => {
    const first = await read();
    const again = await certgenCreate({
      kc,
      namespace: NAMESPACE,
      secretName: SECRET,
      hosts: HOSTS,
      now: new Date(),
    });
    assert.equal(again.written, false);
    assert.equal((await read()).metadata?.resourceVersion, first.metadata?.resourceVersion);
    const late = await certgenCreate({
      kc,
      namespace: NAMESPACE,
      secretName: SECRET,
      hosts: HOSTS,
      now: new Date(Date.now() + 340 * DAY),
    });
    assert.deepEqual([late.written, late.keepCA], [true, true]);
    const renewed = await read();
    assert.equal(text(renewed, "ca.crt"), text(first, "ca.crt"));
    assert.notEqual(text(renewed, "tls.crt"), text(first, "tls.crt"));
    const moreHosts = await certgenCreate({
      kc,
      namespace: NAMESPACE,
      secretName: SECRET,
      hosts: [...HOSTS, "localhost"],
      now: new Date(),
    });
    assert.deepEqual([moreHosts.written, moreHosts.keepCA], [true, true]);
    await certgenCreate({
      kc,
      namespace: NAMESPACE,
      secretName: SECRET,
      hosts: HOSTS,
      now: new Date(),
    });
  });

  it("create --server/--client adds NAME.crt/NAME.key pairs under the same CA, keeping the serving pair", async () => {
    const first = await read();
    const args = [
      "certgen",
      "create",
      "--kubeconfig",
      plane.kubeconfig,
      "--namespace",
      NAMESPACE,
      "--service",
      "hami-scheduler",
      "--host",
      "127.0.0.1",
      "--secret-name",
      SECRET,
      "--server",
      "nats=hami-nats",
      "--client",
      "kube-scheduler=hami-kube-scheduler",
    ];
    const run = await runHami(args);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /issued further certificates \(CA and serving certificate kept\)/);
    const secret = await read();
    assert.equal(text(secret, "tls.crt"), text(first, "tls.crt"));
    const ca = new X509Certificate(text(secret, "ca.crt"));
    const nats = new X509Certificate(text(secret, "nats.crt"));
    const client = new X509Certificate(text(secret, "kube-scheduler.crt"));
    assert.ok(nats.verify(ca.publicKey) && client.verify(ca.publicKey));
    assert.match(nats.subjectAltName ?? "", /DNS:hami-nats\.kube-system\.svc\b/);
    assert.equal(client.subject, "CN=hami-kube-scheduler");
    assert.ok(nats.checkPrivateKey(createPrivateKey(text(secret, "nats.key"))));
    const again = await runHami(args);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, / kept \(valid\)/);
    assert.equal((await read()).metadata?.resourceVersion, secret.metadata?.resourceVersion);
    const bad = await runHami([...args.slice(0, -4), "--server", "ca=hami-nats"]);
    assert.equal(bad.code, 2, bad.stdout);
    assert.match(bad.stderr, /--server=ca=hami-nats: NAME must be a new lower-case name/);
  });

  it("patch writes the CA into every webhook, the failure policy into the GPU entry only; then the apiserver calls the webhook over TLS", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hami-certgen-"));
    let webhook: RunningServer | undefined;
    try {
      const secret = await read();
      await writeFile(join(dir, "tls.crt"), text(secret, "tls.crt"));
      await writeFile(join(dir, "tls.key"), text(secret, "tls.key"), { mode: 0o600 });
      webhook = (await serveWebhook(dir)).server;
      const entry = (name: string) => ({
        name,
        admissionReviewVersions: ["v1"],
        sideEffects: "NoneOnDryRun",
        failurePolicy: "Ignore",
        clientConfig: { url: `https://127.0.0.1:${webhook!.port}/mutate` },
        rules: [
          { operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"] },
        ],
        namespaceSelector: {
          matchLabels: {
            "kubernetes.io/metadata.name": name === "vgpu.hami.io" ? "default" : "nowhere",
          },
        },
      });
      const admission = kc.makeApiClient(AdmissionregistrationV1Api);
      await admission.createMutatingWebhookConfiguration({
        body: {
          metadata: { name: "hami-webhook" },
          webhooks: [entry("vgpu.hami.io"), entry("env.vgpu.hami.io")],
        },
      });
      const run = await runHami([
        "certgen",
        "patch",
        "--kubeconfig",
        plane.kubeconfig,
        "--webhook-name",
        "hami-webhook",
        "--secret-name",
        SECRET,
        "--namespace",
        NAMESPACE,
        "--failure-policy",
        "Fail",
      ]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /written to 2 webhook\(s\) of hami-webhook/);
      const patched = await admission.readMutatingWebhookConfiguration({ name: "hami-webhook" });
      for (const webhookEntry of patched.webhooks ?? [])
        assert.equal(webhookEntry.clientConfig.caBundle, secret.data?.["ca.crt"]);
      assert.deepEqual(
        patched.webhooks?.map((w) => [w.name, w.failurePolicy]),
        [
          ["vgpu.hami.io", "Fail"],
          ["env.vgpu.hami.io", "Ignore"],
        ],
        "the overwriteEnv entry for pods without GPUs stays fail-open",
      );
      const pod = {
        metadata: { name: "gpu" },
        spec: {
          containers: [
            { name: "main", image: "cuda", resources: { limits: { "nvidia.com/gpu": "1" } } },
          ],
        },
      };
      await waitFor(
        "pod mutated through the patched webhook",
        async () => {
          const created = await core.createNamespacedPod({
            namespace: "default",
            body: pod,
            dryRun: "All",
          });
          return created.spec?.schedulerName === "hami-scheduler";
        },
        30_000,
      );
    } finally {
      await webhook?.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("the CLI reports create results and refuses missing flags and kubeconfigs", async () => {
    const run = await runHami([
      "certgen",
      "create",
      "--kubeconfig",
      plane.kubeconfig,
      "--namespace",
      NAMESPACE,
      "--service",
      "hami-scheduler",
      "--secret-name",
      SECRET,
      "--host",
      "127.0.0.1",
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /secret kube-system\/hami-webhook-tls kept \(valid\)/);
    const noService = await runHami([
      "certgen",
      "create",
      "--kubeconfig",
      plane.kubeconfig,
      "--namespace",
      NAMESPACE,
      "--secret-name",
      SECRET,
    ]);
    assert.equal(noService.code, 2);
    assert.match(noService.stderr, /--service is required/);
    const noConfig = await runHami([
      "certgen",
      "create",
      "--kubeconfig",
      "/nonexistent",
      "--namespace",
      "n",
      "--service",
      "s",
      "--secret-name",
      "x",
    ]);
    assert.equal(noConfig.code, 2);
    assert.match(noConfig.stderr, /cannot load kubeconfig \/nonexistent/);
  });
});
