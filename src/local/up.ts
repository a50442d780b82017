// The local mode: on one machine without Kubernetes or GPUs, the whole system for real - etcd,
// kube-apiserver and kube-scheduler (built from the pinned modules on first use), nats-server,
// `hami webhook`, `hami scheduler` (the extender) and, per simulated GPU node, a SIMULATED kubelet with our
// real node agent (`hami node`) reading a mock device file. Everything lives in one temp dir that
// stop() removes.

import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { AdmissionregistrationV1Api, CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { KeepAliveKubeConfig } from "../k8s/index.js";
import { stringify } from "yaml";
import { randomUUID } from "node:crypto";
import { ensureLocalCerts } from "../certs/index.js";
import type { NatsEnv } from "../config/index.js";
import { natsAuthorization, NatsRoles, natsTls, type NatsRole } from "../events/index.js";
import { controlPlaneMissing, startControlPlane, type ControlPlane } from "./control-plane.js";
import { startScheduler, type RunningScheduler } from "./kube-scheduler.js";
import { Processes, type AgentProcess, type HamiProcess, type Restartable } from "./processes.js";
import { natsServerBinary, startNats, type NatsServer } from "./nats-server.js";
import { freePort, httpsStatus, waitFor } from "./net.js";
import { installSimulatedHamiCore } from "./simulated-hami-core.js";
import { SimulatedKubelet } from "./simulated-kubelet.js";
import { writeMockDevices, type LocalNode } from "./mock-devices.js";
import { onPath, startRealNode, type RealNode } from "./real-node.js";

export class LocalError extends Error {
  override readonly name = "LocalError";
}

export type { LocalNode } from "./mock-devices.js";

/** Keeps pods that do not ask for MIG off the local mode's MIG node. */
export const MIG_TAINT = { key: "hami.io/mig", value: "true", effect: "NoSchedule" };

/** The default demo cluster: mixed GPU models, and one GPU in MIG mode. */
export const DEFAULT_NODES: LocalNode[] = [
  {
    name: "hami-local-a100",
    gpus: { uuidPrefix: "GPU-a100", type: "NVIDIA A100-SXM4-80GB", memoryMiB: 81_920, count: 2 },
  },
  {
    name: "hami-local-t4",
    gpus: { uuidPrefix: "GPU-t4", type: "Tesla T4", memoryMiB: 15_360, count: 4 },
  },
  {
    name: "hami-local-v100",
    gpus: {
      uuidPrefix: "GPU-v100",
      type: "Tesla V100-SXM2-32GB",
      memoryMiB: 32_768,
      count: 8,
      nvlinkGroup: 4,
    },
  },
  {
    // MIG mode on, instances made by the operator (SIMULATED: the figures of an H100's 1g.10gb and
    // 3g.40gb); tainted so that only pods asking for MIG (examples/pods/15-mig.yaml) come here.
    name: "hami-local-mig",
    gpus: {
      uuidPrefix: "GPU-h100",
      type: "NVIDIA H100 80GB HBM3",
      memoryMiB: 81_559,
      count: 1,
      mig: [
        { profile: "1g.10gb", memoryMiB: 9984, cores: 13, start: 0, size: 1 },
        { profile: "1g.10gb", memoryMiB: 9984, cores: 13, start: 1, size: 1 },
        { profile: "1g.10gb", memoryMiB: 9984, cores: 13, start: 2, size: 1 },
        { profile: "3g.40gb", memoryMiB: 40_704, cores: 46, start: 4, size: 4 },
      ],
    },
    taints: [MIG_TAINT],
  },
];

export interface LocalOptions {
  /** How to run `hami` (this process's own command line), and the environment it gets. */
  hami: string[];
  env: NodeJS.ProcessEnv;
  nodes?: LocalNode[];
  splitCount?: number;
  /** Port of the webhook's HTTPS server (`hami webhook`); free one when absent. */
  port?: number;
  /** The first node is a REAL node (containerd + runc + kubelet, real-node.ts), the rest simulated. */
  realNode?: boolean;
  /** An existing cluster to run against instead of our own etcd and kube-apiserver: its nodes
   * are simulated ones, tainted SIMULATED_TAINT, and everything is removed from it on stop. */
  existing?: { kubeconfig: string; webhookHost: string };
  say: (line: string) => void;
}

/** On the simulated GPU nodes of an existing cluster: only pods that tolerate it land there. */
export const SIMULATED_TAINT = { key: "hami.io/simulated", value: "true", effect: "NoSchedule" };
const EXISTING_WEBHOOK = "hami-local-webhook";

/** What local mode runs against: its own control plane, or an existing cluster. */
interface Cluster {
  dir: string;
  kubeconfig: string;
  plane?: ControlPlane;
  stop(): Promise<void>;
}

async function cluster(options: LocalOptions, dir: string): Promise<Cluster> {
  if (options.existing === undefined) {
    options.say("starting etcd and kube-apiserver...");
    const plane = await startControlPlane();
    return { dir: plane.dir, kubeconfig: plane.kubeconfig, plane, stop: () => plane.stop() };
  }
  if (options.realNode === true)
    throw new LocalError("--real-node joins our own control plane; it cannot go with --kubeconfig");
  const kubeconfig = resolve(options.existing.kubeconfig);
  options.say(
    `using the cluster of ${kubeconfig}: simulated GPU nodes tainted ${SIMULATED_TAINT.key}`,
  );
  // Local mode's own temp dir holds what would go in the control plane's (kube-scheduler's config).
  return { dir, kubeconfig, stop: () => Promise.resolve() };
}

/** Removes from an existing cluster what local mode put there: the webhook registration, the
 * simulated nodes and the pods bound to them (their kubelets are gone). */
async function leaveCluster(kc: KubeConfig, nodeNames: readonly string[]): Promise<void> {
  await kc
    .makeApiClient(AdmissionregistrationV1Api)
    .deleteMutatingWebhookConfiguration({ name: EXISTING_WEBHOOK })
    .catch(() => undefined);
  const core = kc.makeApiClient(CoreV1Api);
  for (const name of nodeNames) {
    const pods = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${name}` });
    for (const pod of pods.items)
      await core
        .deleteNamespacedPod({
          name: pod.metadata?.name ?? "",
          namespace: pod.metadata?.namespace ?? "default",
          gracePeriodSeconds: 0,
        })
        .catch(() => undefined);
    await core.deleteNode({ name }).catch(() => undefined);
  }
}

export interface LocalCluster {
  dir: string;
  kubeconfig: string;
  /** NATS as the audit role sees it (read only), for `hami events`. */
  nats: NatsEnv;
  uiURL: string;
  kubelets: SimulatedKubelet[];
  realNode?: RealNode;
  /** Per node name, its `hami node` process. */
  agents: Map<string, AgentProcess>;
  /** Per node, its monitor's /metrics (HAMi's device-monitor names). */
  monitors: Map<string, string>;
  /** `hami scheduler` (the extender) and `hami webhook`, each its own process. */
  scheduler: HamiProcess;
  webhook: HamiProcess;
  natsServer: Restartable;
  stop(): Promise<void>;
}

const ROOT = resolve(import.meta.dirname, "../..");

/** Builds the control plane and nats-server when missing (minutes, with progress), or says what
 * to install. */
export function ensurePrerequisites(say: (line: string) => void): void {
  if (controlPlaneMissing() === undefined && natsServerBinary() !== undefined) return;
  if (!onPath("go"))
    throw new LocalError(
      "the control plane and nats-server are built from source the first time and need Go >= 1.26 on PATH (https://go.dev/dl/)",
    );
  say(
    "building nats-server, etcd, kube-apiserver, kube-scheduler, kubectl and helm (first run only, several minutes)...",
  );
  const built = spawnSync("bash", [join(ROOT, "test/cluster/build.sh")], { stdio: "inherit" });
  if (built.status !== 0)
    throw new LocalError(`the control plane build failed (exit ${built.status ?? "?"})`);
}

/** One NATS user per component role (scheduler, node, audit) with its subject permissions; the
 * server refuses anonymous clients and speaks TLS only, with certgen's `nats` pair from certs. */
async function writeNatsConfig(
  dir: string,
  certs: string,
): Promise<Record<NatsRole, { user: string; password: string }>> {
  const users = NatsRoles.map((role) => ({ user: `hami-${role}`, password: randomUUID(), role }));
  const conf = natsAuthorization(users) + natsTls(join(certs, "nats.crt"), join(certs, "nats.key"));
  await writeFile(join(dir, "nats.conf"), conf, { mode: 0o600 });
  return Object.fromEntries(
    users.map((u) => [u.role, { user: u.user, password: u.password }]),
  ) as Record<NatsRole, { user: string; password: string }>;
}

function natsEnvironment(nats: NatsEnv): NodeJS.ProcessEnv {
  return {
    NATS_URL: nats.url,
    NATS_USER: nats.user,
    NATS_PASSWORD: nats.password,
    NATS_TLS_CA: nats.tlsCaFile,
  };
}

/** Registers our webhook at `url` (with its path) as the chart does: pod CREATEs, namespaces and
 * pods labelled hami.io/webhook=ignore never sent, failurePolicy Fail. */
export async function registerWebhook(
  kc: KubeConfig,
  url: string,
  caPem: string,
  name = "hami-webhook",
): Promise<void> {
  const selector = {
    matchExpressions: [{ key: "hami.io/webhook", operator: "NotIn", values: ["ignore"] }],
  };
  await kc.makeApiClient(AdmissionregistrationV1Api).createMutatingWebhookConfiguration({
    body: {
      metadata: { name },
      webhooks: [
        {
          name: "vgpu.hami.io",
          admissionReviewVersions: ["v1"],
          sideEffects: "NoneOnDryRun",
          failurePolicy: "Fail",
          timeoutSeconds: 10,
          clientConfig: { url, caBundle: Buffer.from(caPem).toString("base64") },
          rules: [
            {
              operations: ["CREATE"],
              apiGroups: [""],
              apiVersions: ["v1"],
              resources: ["pods"],
              scope: "Namespaced",
            },
          ],
          namespaceSelector: selector,
          objectSelector: selector,
        },
      ],
    },
  });
}

interface Nodes {
  kubelets: SimulatedKubelet[];
  realNode?: RealNode;
  agents: Map<string, AgentProcess>;
  /** Per node, its monitor's /metrics. */
  monitors: Map<string, string>;
}

async function startNodes(
  options: LocalOptions,
  ctx: { plane: Cluster; dir: string; config: string; nats: NatsEnv; processes: Processes },
  nodes: Nodes,
): Promise<void> {
  for (const [i, node] of (options.nodes ?? DEFAULT_NODES).entries()) {
    let pluginDir: string;
    if (options.realNode === true && i === 0 && ctx.plane.plane !== undefined) {
      options.say(`starting containerd and the kubelet: ${node.name} is a real node...`);
      nodes.realNode = await startRealNode({
        plane: ctx.plane.plane,
        name: node.name,
        labels: { gpu: "on" },
      });
      pluginDir = nodes.realNode.pluginDir;
    } else {
      const kubelet = await SimulatedKubelet.start({
        kubeconfig: ctx.plane.kubeconfig,
        nodeName: node.name,
        labels: { gpu: "on" },
        simulateRegions: true,
        taints: [
          ...(node.taints ?? []),
          ...(options.existing === undefined ? [] : [SIMULATED_TAINT]),
        ],
      });
      nodes.kubelets.push(kubelet);
      pluginDir = kubelet.pluginDir;
    }
    const devices = await writeMockDevices(ctx.dir, node);
    const monitorPort = await freePort();
    const args = [
      "node",
      `--node-name=${node.name}`,
      `--devices=file:${devices}`,
      `--device-plugin-dir=${pluginDir}`,
      `--kubeconfig=${ctx.plane.kubeconfig}`,
      `--config=${ctx.config}`,
      "--lease-namespace=kube-system",
      `--vgpu-lock-dir=${join(ctx.dir, "vgpulock")}`,
      `--monitor-port=${monitorPort}`,
      "--monitor-period=1",
    ];
    nodes.monitors.set(node.name, `http://127.0.0.1:${monitorPort}/metrics`);
    nodes.agents.set(
      node.name,
      ctx.processes.restartable(node.name, args, natsEnvironment(ctx.nats)),
    );
  }
}

export async function startLocal(options: LocalOptions): Promise<LocalCluster> {
  ensurePrerequisites(options.say);
  const dir = await mkdtemp(join(tmpdir(), "hami-local-"));
  const processes = new Processes(dir, options.hami, options.env);
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const plane = await cluster(options, dir);
    cleanups.push(() => plane.stop());
    const certs = join(dir, "certs");
    const webhookHost = options.existing?.webhookHost ?? "127.0.0.1";
    const hosts = [...new Set(["127.0.0.1", "localhost", webhookHost])];
    const leaves = { nats: { usage: "server", hosts } } as const;
    await ensureLocalCerts({ dir: certs, hosts, now: new Date(), leaves });
    const tlsCaFile = join(certs, "ca.crt");
    const natsUsers = await writeNatsConfig(dir, certs);
    const nats: NatsServer = await startNats({
      args: ["-c", join(dir, "nats.conf")],
      probe: {
        user: natsUsers.audit.user,
        pass: natsUsers.audit.password,
        tls: { caFile: tlsCaFile },
      },
    });
    cleanups.push(() => nats.cleanup());
    const natsAs = (role: NatsRole): NatsEnv => ({ url: nats.url, ...natsUsers[role], tlsCaFile });
    await installSimulatedHamiCore(join(dir, "hook"));
    const config = join(dir, "device-config.yaml");
    await writeFile(
      config,
      stringify({
        nvidia: {
          deviceSplitCount: options.splitCount ?? 10,
          hookPath: join(dir, "hook"),
          // GPUs with MIG on are offered by instance (the others are not affected).
          migstrategy: "mixed",
        },
      }),
    );
    const ca = await readFile(join(certs, "ca.crt"), "utf8");
    const port = options.port ?? (await freePort());
    const url = `https://${webhookHost}:${port}`;
    const healthURL = `https://127.0.0.1:${await freePort()}`;
    const extenderPort = await freePort();
    const statusURL = `http://127.0.0.1:${await freePort()}`;
    const tls = [`--tls-cert=${join(certs, "tls.crt")}`, `--tls-key=${join(certs, "tls.key")}`];
    cleanups.push(() => processes.stop());
    options.say(
      "starting hami webhook, hami scheduler (extender), kube-scheduler and the simulated GPU nodes...",
    );
    // The webhook is its own process, as the chart's hami-webhook Deployment: pods are admitted
    // while the scheduler restarts.
    const webhook = processes.restartable(
      "hami-webhook",
      ["webhook", `--host=${webhookHost}`, `--port=${port}`, `--config=${config}`, ...tls],
      natsEnvironment(natsAs("webhook")),
    );
    const scheduler = processes.restartable(
      "hami-scheduler",
      [
        "scheduler",
        "--host=127.0.0.1",
        `--port=${new URL(healthURL).port}`,
        `--kubeconfig=${plane.kubeconfig}`,
        `--config=${config}`,
        ...tls,
        "--without-webhook",
        `--extender-port=${extenderPort}`,
        `--status-port=${new URL(statusURL).port}`,
        "--lease-namespace=kube-system",
        "--require-agent-lease",
      ],
      natsEnvironment(natsAs("scheduler")),
    );
    for (const [name, proc, base] of [
      ["hami-webhook", webhook, url],
      ["hami-scheduler", scheduler, healthURL],
    ] as const)
      await waitFor(
        `${name} ready`,
        async () => {
          if (proc.child().exitCode !== null)
            throw new LocalError(`${name} exited:\n${await processes.tail(name)}`);
          return (await httpsStatus(`${base}/readyz`, { ca }).catch(() => 0)) === 200
            ? true
            : undefined;
        },
        60_000,
      );
    const kc = new KeepAliveKubeConfig();
    kc.loadFromFile(plane.kubeconfig);
    const nodeNames = (options.nodes ?? DEFAULT_NODES).map((n) => n.name);
    if (options.existing !== undefined) cleanups.push(() => leaveCluster(kc, nodeNames));
    await registerWebhook(
      kc,
      `${url}/webhook`,
      ca,
      options.existing === undefined ? "hami-webhook" : EXISTING_WEBHOOK,
    );
    const kubeScheduler: RunningScheduler = await startScheduler(
      plane,
      `http://127.0.0.1:${extenderPort}`,
    );
    cleanups.push(() => kubeScheduler.stop());
    const nodes: Nodes = { kubelets: [], agents: new Map(), monitors: new Map() };
    cleanups.push(async () => {
      // Agents first: one outliving its node's dir would serve its socket there again.
      for (const agent of nodes.agents.values()) await agent.stop();
      for (const kubelet of nodes.kubelets) await kubelet.stop();
      await nodes.realNode?.stop();
    });
    await startNodes(options, { plane, dir, config, nats: natsAs("node"), processes }, nodes);
    const core = kc.makeApiClient(CoreV1Api);
    await waitFor(
      "every node publishing nvidia.com/gpu",
      async () => {
        const items = (await core.listNode()).items.filter((n) =>
          nodeNames.includes(n.metadata?.name ?? ""),
        );
        return items.length === nodes.agents.size &&
          items.every((n) => Number(n.status?.allocatable?.["nvidia.com/gpu"] ?? 0) > 0)
          ? true
          : undefined;
      },
      60_000,
    );
    return {
      dir,
      kubeconfig: plane.kubeconfig,
      nats: natsAs("audit"),
      uiURL: `${statusURL}/ui`,
      kubelets: nodes.kubelets,
      ...(nodes.realNode === undefined ? {} : { realNode: nodes.realNode }),
      agents: nodes.agents,
      monitors: nodes.monitors,
      scheduler,
      webhook,
      natsServer: nats,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
