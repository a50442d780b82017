// The local mode: on one machine without Kubernetes or GPUs, the whole system for real - etcd,
// kube-apiserver and kube-scheduler (built from the pinned modules on first use), nats-server,
// `hami webhook`, `hami scheduler` (the extender) and, per simulated GPU node, a SIMULATED kubelet with our
// real node agent (`hami node`) reading a mock device file. Everything lives in one temp dir that
// stop() removes.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
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
import {
  controlPlaneMissing,
  killOnExit,
  startControlPlane,
  stopProcess,
  type ControlPlane,
} from "./control-plane.js";
import { startScheduler, type RunningScheduler } from "./kube-scheduler.js";
import { natsServerBinary, startNats, type NatsServer } from "./nats-server.js";
import { freePort, httpsStatus, waitFor } from "./net.js";
import { installSimulatedHamiCore } from "./simulated-hami-core.js";
import { SimulatedKubelet } from "./simulated-kubelet.js";
import { onPath, startRealNode, type RealNode } from "./real-node.js";

export class LocalError extends Error {
  override readonly name = "LocalError";
}

export interface LocalNode {
  name: string;
  gpus: { uuidPrefix: string; type: string; memoryMiB: number; count: number };
}

/** The default demo cluster: mixed GPU models. */
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
    gpus: { uuidPrefix: "GPU-v100", type: "Tesla V100-SXM2-32GB", memoryMiB: 32_768, count: 8 },
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
  say: (line: string) => void;
}

/** A component a test or the demo can stop and start again. */
export interface Restartable {
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** A `hami` process a test can stop, start again or kill, with the arguments it runs with
 * (`hami` then these). */
export interface HamiProcess extends Restartable {
  readonly args: readonly string[];
  /** SIGKILL, as a crash: no shutdown, no cleanup; resolves once it exited. */
  crash(): Promise<void>;
}
/** A node's `hami node` process. */
export type AgentProcess = HamiProcess;

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

async function writeMockDevices(dir: string, node: LocalNode): Promise<string> {
  const devices = Array.from({ length: node.gpus.count }, (_, i) => ({
    uuid: `${node.gpus.uuidPrefix}-${i}`,
    type: node.gpus.type,
    memoryMiB: node.gpus.memoryMiB,
  }));
  const path = join(dir, `${node.name}-gpus.yaml`);
  await writeFile(path, stringify({ devices }));
  return path;
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

class Processes {
  private readonly children: ChildProcess[] = [];
  private readonly dir: string;
  private readonly hami: string[];
  private readonly env: NodeJS.ProcessEnv;

  constructor(dir: string, hami: string[], env: NodeJS.ProcessEnv) {
    this.dir = dir;
    this.hami = hami;
    this.env = env;
  }

  /** Starts `hami <args>`, its output in <dir>/<name>.log; `env` adds to the environment (secrets
   * go there, not in argv, where ps shows them). */
  start(name: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    const [bin = process.execPath, ...rest] = this.hami;
    const child = spawn(bin, [...rest, ...args], {
      cwd: ROOT,
      env: { ...this.env, ...env, LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const log = createWriteStream(join(this.dir, `${name}.log`));
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    killOnExit(child);
    this.children.push(child);
    return child;
  }

  /** `hami <args>` as a process a test can stop, start again or crash; `ready` tells a new one
   * is serving. */
  restartable(
    name: string,
    args: string[],
    env: NodeJS.ProcessEnv = {},
  ): HamiProcess & { child: () => ChildProcess } {
    let child = this.start(name, args, env);
    return {
      args,
      child: () => child,
      stop: () => stopProcess(child),
      start: () => {
        child = this.start(name, args, env);
        return Promise.resolve();
      },
      crash: async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGKILL");
        await exited;
      },
    };
  }

  async tail(name: string): Promise<string> {
    return (await readFile(join(this.dir, `${name}.log`), "utf8").catch(() => "")).slice(-4_000);
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map((child) => stopProcess(child)));
  }
}

/** Registers our webhook at `url` (with its path) as the chart does: pod CREATEs, namespaces and
 * pods labelled hami.io/webhook=ignore never sent, failurePolicy Fail. */
export async function registerWebhook(kc: KubeConfig, url: string, caPem: string): Promise<void> {
  const selector = {
    matchExpressions: [{ key: "hami.io/webhook", operator: "NotIn", values: ["ignore"] }],
  };
  await kc.makeApiClient(AdmissionregistrationV1Api).createMutatingWebhookConfiguration({
    body: {
      metadata: { name: "hami-webhook" },
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
}

async function startNodes(
  options: LocalOptions,
  ctx: { plane: ControlPlane; dir: string; config: string; nats: NatsEnv; processes: Processes },
  nodes: Nodes,
): Promise<void> {
  for (const [i, node] of (options.nodes ?? DEFAULT_NODES).entries()) {
    let pluginDir: string;
    if (options.realNode === true && i === 0) {
      options.say(`starting containerd and the kubelet: ${node.name} is a real node...`);
      nodes.realNode = await startRealNode({
        plane: ctx.plane,
        name: node.name,
        labels: { gpu: "on" },
      });
      pluginDir = nodes.realNode.pluginDir;
    } else {
      const kubelet = await SimulatedKubelet.start({
        kubeconfig: ctx.plane.kubeconfig,
        nodeName: node.name,
        labels: { gpu: "on" },
      });
      nodes.kubelets.push(kubelet);
      pluginDir = kubelet.pluginDir;
    }
    const devices = await writeMockDevices(ctx.dir, node);
    const args = [
      "node",
      `--node-name=${node.name}`,
      `--devices=file:${devices}`,
      `--device-plugin-dir=${pluginDir}`,
      `--kubeconfig=${ctx.plane.kubeconfig}`,
      `--config=${ctx.config}`,
      "--lease-namespace=kube-system",
      `--vgpu-lock-dir=${join(ctx.dir, "vgpulock")}`,
    ];
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
    options.say("starting etcd and kube-apiserver...");
    const plane = await startControlPlane();
    cleanups.push(() => plane.stop());
    const certs = join(dir, "certs");
    const hosts = ["127.0.0.1", "localhost"];
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
        nvidia: { deviceSplitCount: options.splitCount ?? 10, hookPath: join(dir, "hook") },
      }),
    );
    const ca = await readFile(join(certs, "ca.crt"), "utf8");
    const port = options.port ?? (await freePort());
    const url = `https://127.0.0.1:${port}`;
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
      ["webhook", "--host=127.0.0.1", `--port=${port}`, `--config=${config}`, ...tls],
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
    await registerWebhook(kc, `${url}/webhook`, ca);
    const kubeScheduler: RunningScheduler = await startScheduler(
      plane,
      `http://127.0.0.1:${extenderPort}`,
    );
    cleanups.push(() => kubeScheduler.stop());
    const nodes: Nodes = { kubelets: [], agents: new Map() };
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
        const items = (await core.listNode()).items;
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
