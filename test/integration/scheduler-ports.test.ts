// `hami scheduler` in its deployed shape (with TLS): the Service's HTTPS port serves the webhook
// only, the extender verbs (they bind pods) listen on loopback for the kube-scheduler in the same
// pod, and the read-only status routes have their own port. Real processes, real HTTPS, a real
// kube-apiserver; no node is needed.

import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CoreV1Api, KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { generateCA, generateClient, generateServing } from "../../src/certs/index.js";
import {
  schedulerConfig,
  SCHEDULER_NAME,
  startScheduler,
  type RunningScheduler,
} from "../helpers/scheduler.js";
import { spawnHami } from "../helpers/cli.js";
import {
  controlPlaneMissing,
  startControlPlane,
  stopProcess,
  type ControlPlane,
} from "../helpers/control-plane.js";
import { createSimulatedGpuNode, simulatedGpus } from "../helpers/gpu-nodes.js";
import { httpsJson } from "../helpers/https.js";
import { startExtenderProcess, type RunningExtender } from "../helpers/extender.js";
import { freePort, waitFor } from "../helpers/net.js";
import { pod, review } from "../helpers/pods.js";

const missing = controlPlaneMissing();

describe("hami scheduler ports (deployed shape)", { skip: missing }, () => {
  let plane: ControlPlane;
  let dir: string;
  let run: ReturnType<typeof spawnHami>;
  const ca = generateCA({ commonName: "ports-ca", now: new Date() });
  const ports = { https: 0, extender: 0, status: 0 };

  before(async () => {
    plane = await startControlPlane();
    dir = await mkdtemp(join(tmpdir(), "hami-ports-"));
    const serving = generateServing(ca, { hosts: ["127.0.0.1"], now: new Date() });
    await writeFile(join(dir, "tls.crt"), serving.cert);
    await writeFile(join(dir, "tls.key"), serving.key, { mode: 0o600 });
    ports.https = await freePort();
    ports.extender = await freePort();
    ports.status = await freePort();
    run = spawnHami(
      [
        "scheduler",
        "--host=0.0.0.0",
        `--port=${ports.https}`,
        `--extender-port=${ports.extender}`,
        `--status-port=${ports.status}`,
        `--kubeconfig=${plane.kubeconfig}`,
        `--tls-cert=${join(dir, "tls.crt")}`,
        `--tls-key=${join(dir, "tls.key")}`,
      ],
      { LOG_LEVEL: "warn" },
    );
    await waitFor(
      "status port ready",
      async () => {
        if (run.child.exitCode !== null) throw new Error(run.output().stderr);
        return (await fetch(`http://127.0.0.1:${ports.status}/readyz`).catch(() => undefined))?.ok;
      },
      30_000,
    );
  });

  after(async () => {
    await stopProcess(run.child);
    await plane?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const https = (path: string, body?: unknown) =>
    httpsJson({ port: ports.https, host: "127.0.0.1", path, ca: ca.cert, body });

  it("the HTTPS (Service) port answers admissions and health, and nothing that binds or reports", async () => {
    const admitted = await https("/mutate", review(pod()));
    assert.equal(admitted.status, 200);
    const bindArgs = { PodName: "p", PodNamespace: "default", PodUID: "", Node: "n" };
    assert.equal((await https("/bind", bindArgs)).status, 404);
    assert.equal((await https("/filter", { Pod: pod(), NodeNames: ["n"] })).status, 404);
    assert.equal((await https("/explain/default/p")).status, 404);
    assert.equal((await https("/healthz")).status, 200);
  });

  it("the extender verbs listen on loopback only", async () => {
    const filter = await fetch(`http://127.0.0.1:${ports.extender}/filter`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ Pod: pod(), NodeNames: [] }),
    });
    assert.equal(filter.status, 200);
    const outside = Object.values(networkInterfaces())
      .flat()
      .find((a) => a !== undefined && a.family === "IPv4" && !a.internal);
    if (outside !== undefined) {
      const reached = await fetch(`http://${outside.address}:${ports.extender}/healthz`)
        .then(() => true)
        .catch(() => false);
      assert.equal(reached, false, `extender reachable on ${outside.address}`);
    }
  });

  it("the status port is read only: metrics and explain, no verbs", async () => {
    const status = `http://127.0.0.1:${ports.status}`;
    assert.match(await (await fetch(`${status}/metrics`)).text(), /hami_scheduler_binds_total/);
    assert.equal((await fetch(`${status}/explain/default/nothing`)).status, 404);
    const bind = await fetch(`${status}/bind`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ PodName: "p", PodNamespace: "default", PodUID: "", Node: "n" }),
    });
    assert.equal(bind.status, 404);
  });
});

// kube-scheduler in its own pod (its own ServiceAccount): the extender verbs over mutual TLS. Only
// a client certificate from our CA, for clientAuth, naming hami-kube-scheduler gets an answer; the
// real kube-scheduler, configured as the chart configures it (tlsConfig), binds a pod through it.
describe("hami scheduler extender over mutual TLS", { skip: missing }, () => {
  let plane: ControlPlane;
  let dir: string;
  let run: RunningExtender;
  let kubeScheduler: RunningScheduler | undefined;
  const ca = generateCA({ commonName: "mtls-ca", now: new Date() });
  const now = new Date();
  const serving = generateServing(ca, { hosts: ["127.0.0.1"], now });
  const client = generateClient(ca, { commonName: "hami-kube-scheduler", now });
  let extenderPort = 0;

  before(async () => {
    plane = await startControlPlane();
    dir = await mkdtemp(join(tmpdir(), "hami-mtls-"));
    const files = {
      "tls.crt": serving.cert,
      "tls.key": serving.key,
      "ca.crt": ca.cert,
      "kube-scheduler.crt": client.cert,
      "kube-scheduler.key": client.key,
    };
    for (const [name, text] of Object.entries(files))
      await writeFile(join(dir, name), text, { mode: 0o600 });
    extenderPort = await freePort();
    const statusPort = await freePort();
    run = await startExtenderProcess(
      plane,
      await freePort(),
      [
        "--extender-host=0.0.0.0",
        `--extender-port=${extenderPort}`,
        `--extender-client-ca=${join(dir, "ca.crt")}`,
        `--status-port=${statusPort}`,
        `--tls-cert=${join(dir, "tls.crt")}`,
        `--tls-key=${join(dir, "tls.key")}`,
      ],
      statusPort,
    );
  });

  after(async () => {
    await kubeScheduler?.stop();
    await run?.stop();
    await plane?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const filter = (options: { client?: { cert: string; key: string }; trust?: string }) =>
    httpsJson({
      port: extenderPort,
      host: "127.0.0.1",
      path: "/filter",
      ca: options.trust ?? ca.cert,
      body: { Pod: pod(), NodeNames: [] },
      client: options.client,
    });

  it("refuses a client without a certificate, with one from another CA, or with a serving certificate", async () => {
    await assert.rejects(filter({}), /certificate|socket hang up|ECONNRESET/);
    const other = generateCA({ commonName: "other-ca", now });
    const foreign = generateClient(other, { commonName: "hami-kube-scheduler", now });
    await assert.rejects(filter({ client: foreign }), /certificate|socket hang up|ECONNRESET/);
    await assert.rejects(filter({ client: serving }), /certificate|socket hang up|ECONNRESET/);
  });

  it("answers 403 to a certificate from our CA naming another client", async () => {
    const stranger = generateClient(ca, { commonName: "someone-else", now });
    const refused = await filter({ client: stranger });
    assert.equal(refused.status, 403);
    assert.match(String(refused.body), /"someone-else" may not call this port/);
    assert.equal((await filter({ client })).status, 200);
  });

  it("the real kube-scheduler with the chart's tlsConfig binds a GPU pod through it", async () => {
    const config = await schedulerConfig(plane.kubeconfig, `https://127.0.0.1:${extenderPort}`);
    const extenders = config.extenders as Record<string, unknown>[];
    extenders[0]!.tlsConfig = {
      certFile: join(dir, "kube-scheduler.crt"),
      keyFile: join(dir, "kube-scheduler.key"),
      caFile: join(dir, "ca.crt"),
    };
    kubeScheduler = await startScheduler(plane, config as unknown as Record<string, unknown>);
    const kc = new KubeConfig();
    kc.loadFromFile(plane.kubeconfig);
    const core = kc.makeApiClient(CoreV1Api);
    await createSimulatedGpuNode(core, "gpu-mtls", simulatedGpus("gpu-mtls", 1));
    const gpuPod = pod({ schedulerName: SCHEDULER_NAME });
    gpuPod.metadata!.name = "mtls-pod";
    await core.createNamespacedPod({ namespace: "default", body: gpuPod as V1Pod });
    await waitFor(
      "pod bound by kube-scheduler through the mutual-TLS extender",
      async () =>
        (await core.readNamespacedPod({ namespace: "default", name: "mtls-pod" })).spec
          ?.nodeName === "gpu-mtls",
      30_000,
    );
  });
});
