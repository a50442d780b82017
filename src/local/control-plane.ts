// A real Kubernetes control plane for tests, run as plain processes on loopback the way envtest
// does: etcd and kube-apiserver built from the pinned modules in test/cluster (npm run
// cluster:build). Generated certificates, an admin client certificate, RBAC on, service-account
// signing keys, a kubeconfig. Only kubelets and GPUs are ever simulated.

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { generateCA, generateClient, generateServing, type PemPair } from "../certs/index.js";
import { freePort, httpsStatus, waitFor } from "./net.js";

export const CLUSTER_BIN = resolve(import.meta.dirname, "../../.cluster-bin");

export interface ControlPlane {
  url: string;
  /** The temp dir holding certificates, kubeconfig and data; removed by stop(). */
  dir: string;
  kubeconfig: string;
  ca: PemPair;
  admin: PemPair;
  stop(): Promise<void>;
}

/** Why the control plane cannot run here, or undefined when the binaries are built. */
export function controlPlaneMissing(): string | undefined {
  const missing = ["etcd", "kube-apiserver", "kubectl"].filter(
    (bin) => !existsSync(join(CLUSTER_BIN, bin)),
  );
  return missing.length === 0
    ? undefined
    : `${missing.join(", ")} not built: run npm run cluster:build (.ci/run does)`;
}

const running = new Set<ChildProcess>();

/** A child must not outlive this process, even when it exits on an error before stopping it. One
 * exit listener serves every child (a local cluster with a real node starts more than ten). */
export function killOnExit(child: ChildProcess): void {
  if (running.size === 0 && process.listeners("exit").every((l) => l !== killRunning))
    process.on("exit", killRunning);
  running.add(child);
  child.once("exit", () => running.delete(child));
}

function killRunning(): void {
  for (const child of running)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

/** Starts a built control-plane binary, keeping the tail of its output for error messages. */
export function launch(bin: string, args: string[], output: { text: string }): ChildProcess {
  const child = spawn(join(CLUSTER_BIN, bin), args, { stdio: ["ignore", "pipe", "pipe"] });
  const append = (chunk: Buffer): void => {
    output.text = (output.text + chunk.toString()).slice(-20_000);
  };
  child.stdout.on("data", append);
  child.stderr.on("data", append);
  killOnExit(child);
  return child;
}

/** Runs the built kubectl with a control plane's (or a local cluster's) kubeconfig; rejects with its
 * stderr on a non-zero exit. */
export function kubectl(plane: Pick<ControlPlane, "kubeconfig">, args: string[]): Promise<string> {
  return new Promise((resolveOutput, reject) => {
    execFile(
      join(CLUSTER_BIN, "kubectl"),
      [`--kubeconfig=${plane.kubeconfig}`, ...args],
      { maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error === null) resolveOutput(stdout);
        else reject(new Error(`kubectl ${args.join(" ")}: ${error.message}\n${stderr}`));
      },
    );
  });
}

/** SIGTERM, then SIGKILL after 10 s; resolves once the process is gone. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolveExit) => child.once("exit", resolveExit));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

function kubeconfig(url: string, ca: PemPair, admin: PemPair): string {
  const b64 = (text: string): string => Buffer.from(text).toString("base64");
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: "test", cluster: { server: url, "certificate-authority-data": b64(ca.cert) } },
    ],
    users: [
      {
        name: "admin",
        user: { "client-certificate-data": b64(admin.cert), "client-key-data": b64(admin.key) },
      },
    ],
    contexts: [{ name: "test", context: { cluster: "test", user: "admin" } }],
    "current-context": "test",
  });
}

export async function startControlPlane(): Promise<ControlPlane> {
  const reason = controlPlaneMissing();
  if (reason !== undefined) throw new Error(reason);
  const dir = await mkdtemp(join(tmpdir(), "hami-cp-"));
  const now = new Date();
  const ca = generateCA({ commonName: "hami-test-ca", now });
  const serving = generateServing(ca, {
    hosts: ["127.0.0.1", "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"],
    now,
  });
  const admin = generateClient(ca, { commonName: "admin", organizations: ["system:masters"], now });
  // What kube-apiserver shows a kubelet for logs and exec (a real node's kubelet checks it).
  const kubeletClient = generateClient(ca, {
    commonName: "kube-apiserver-kubelet-client",
    organizations: ["system:masters"],
    now,
  });
  const sa = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  const file = async (name: string, text: string): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, text, { mode: 0o600 });
    return path;
  };
  const [caFile, certFile, keyFile, saKey, saPub, kubeletCert, kubeletKey] = await Promise.all([
    file("ca.crt", ca.cert),
    file("apiserver.crt", serving.cert),
    file("apiserver.key", serving.key),
    file("sa.key", sa.privateKey),
    file("sa.pub", sa.publicKey),
    file("kubelet-client.crt", kubeletClient.cert),
    file("kubelet-client.key", kubeletClient.key),
  ]);
  const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
  const etcdUrl = `http://127.0.0.1:${etcdClient}`;
  const etcdOutput = { text: "" };
  const apiOutput = { text: "" };
  const children: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    for (const child of children.reverse()) await stopProcess(child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    children.push(
      launch(
        "etcd",
        [
          "--data-dir",
          join(dir, "etcd"),
          "--listen-client-urls",
          etcdUrl,
          "--advertise-client-urls",
          etcdUrl,
          "--listen-peer-urls",
          `http://127.0.0.1:${etcdPeer}`,
          "--initial-advertise-peer-urls",
          `http://127.0.0.1:${etcdPeer}`,
          "--initial-cluster",
          `default=http://127.0.0.1:${etcdPeer}`,
          "--unsafe-no-fsync",
        ],
        etcdOutput,
      ),
    );
    await waitFor("etcd healthy", async () => (await fetch(`${etcdUrl}/health`)).ok, 30_000).catch(
      (error: unknown) => {
        throw new Error(`${String(error)}\netcd output:\n${etcdOutput.text}`);
      },
    );
    const url = `https://127.0.0.1:${apiPort}`;
    children.push(
      launch(
        "kube-apiserver",
        [
          `--etcd-servers=${etcdUrl}`,
          "--bind-address=127.0.0.1",
          `--secure-port=${apiPort}`,
          `--tls-cert-file=${certFile}`,
          `--tls-private-key-file=${keyFile}`,
          `--client-ca-file=${caFile}`,
          `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
          `--service-account-key-file=${saPub}`,
          `--service-account-signing-key-file=${saKey}`,
          "--service-cluster-ip-range=10.96.0.0/16",
          "--authorization-mode=RBAC",
          "--allow-privileged=true",
          // No controller-manager runs: nothing would create service-account tokens, and nothing would
          // lift the not-ready taint TaintNodesByCondition puts on every new Node.
          "--disable-admission-plugins=ServiceAccount,TaintNodesByCondition",
          `--cert-dir=${join(dir, "apiserver-certs")}`,
          // A real node's kubelet (real-node.ts) is reached at its address, not by a DNS name.
          "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
          `--kubelet-client-certificate=${kubeletCert}`,
          `--kubelet-client-key=${kubeletKey}`,
        ],
        apiOutput,
      ),
    );
    await waitFor(
      "kube-apiserver /readyz",
      async () =>
        (await httpsStatus(`${url}/readyz`, { ca: ca.cert, cert: admin.cert, key: admin.key })) ===
        200,
      90_000,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\nkube-apiserver output:\n${apiOutput.text}`);
    });
    const kubeconfigPath = await file("kubeconfig", kubeconfig(url, ca, admin));
    return { url, dir, kubeconfig: kubeconfigPath, ca, admin, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
