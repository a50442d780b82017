// `hami local`: the whole system on this machine (see src/local/up.ts), the examples applied and
// reported, then running until Ctrl-C, which stops everything and removes the temp state.

import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { CoreV1Api, type V1Toleration } from "@kubernetes/client-node";
import { KeepAliveKubeConfig } from "../k8s/index.js";
import {
  applyExamples,
  formatReport,
  loggedEnvs,
  reportPods,
  SIMULATED_TAINT,
  startLocal,
  waitPlaced,
  type LocalCluster,
} from "../local/index.js";
import { UsageError } from "./usage.js";

export const LOCAL_USAGE = `usage: hami local [--port 8443] [--examples DIR] [--no-examples] [--real-node]
                  [--kubeconfig FILE [--webhook-host 127.0.0.1]]
  a local GPU-sharing cluster: real etcd, kube-apiserver, kube-scheduler and nats-server, hami's webhook,
  extender and node agents, three simulated GPU nodes (2 x A100-80GB, 4 x T4, 8 x V100-32GB, split 10);
  applies examples/pods and prints where each pod landed; Ctrl-C stops everything
  --real-node   the first GPU node is a real kubelet + containerd + runc (root, apt packages, cluster:build);
                the examples run busybox there and print the env Allocate gave them
  --kubeconfig  run against an existing cluster (kind, minikube, a dev cluster) instead of our own etcd
                and kube-apiserver: its GPU nodes are simulated ones tainted hami.io/simulated=true:NoSchedule
                (the examples tolerate it; so must your pods), and on exit the webhook registration, those
                nodes and their pods are removed
  --webhook-host  where that cluster's kube-apiserver reaches this machine (the webhook listens there;
                  for kind, this host's address on the kind network)`;

export async function runLocal(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: "string" },
      examples: { type: "string", default: "examples/pods" },
      "no-examples": { type: "boolean", default: false },
      "real-node": { type: "boolean", default: false },
      kubeconfig: { type: "string" },
      "webhook-host": { type: "string", default: "127.0.0.1" },
    },
    strict: true,
  });
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535))
    throw new UsageError(`--port=${values.port}: not a TCP port`);
  const say = (line: string): void => {
    process.stdout.write(`hami local: ${line}\n`);
  };
  const hami = [process.execPath, ...process.execArgv, resolve(process.argv[1] ?? "")];
  const cluster = await startLocal({
    hami,
    env: process.env,
    say,
    realNode: values["real-node"],
    ...(port === undefined ? {} : { port }),
    ...(values.kubeconfig === undefined
      ? {}
      : { existing: { kubeconfig: values.kubeconfig, webhookHost: values["webhook-host"] } }),
  });
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping everything and removing ${cluster.dir}`);
    void cluster.stop().finally(() => {
      say("stopped");
      process.exit(0);
    });
  };
  process.once("SIGINT", () => {
    shutdown("SIGINT");
  });
  process.once("SIGTERM", () => {
    shutdown("SIGTERM");
  });
  say(`cluster up: kubeconfig ${cluster.kubeconfig}`);
  try {
    const tolerate = values.kubeconfig === undefined ? undefined : SIMULATED_TAINT;
    if (!values["no-examples"])
      await showExamples(cluster, resolve(values.examples), say, tolerate);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  whereToLook(cluster).forEach((line) => {
    say(line);
  });
  say("running; Ctrl-C stops everything");
}

function whereToLook(cluster: LocalCluster): string[] {
  return [
    `GPU view: ${cluster.uiURL}`,
    ...[...cluster.monitors].map(([node, url]) => `node monitor of ${node}: ${url}`),
    `status:   ${natsEnv(cluster.nats)} hami status --kubeconfig ${cluster.kubeconfig} --nats ${cluster.nats.url} --nats-ca ${cluster.nats.tlsCaFile ?? ""}`,
    `events:   ${eventsCommand(cluster.nats)}`,
  ];
}

function natsEnv(nats: LocalCluster["nats"]): string {
  return `NATS_USER=${nats.user ?? ""} NATS_PASSWORD=${nats.password ?? ""}`;
}

function eventsCommand(nats: LocalCluster["nats"]): string {
  return `${natsEnv(nats)} hami events --follow --nats ${nats.url} --nats-ca ${nats.tlsCaFile ?? ""} (read-only user, TLS; NATS refuses anonymous and plain clients)`;
}

async function showExamples(
  cluster: LocalCluster,
  dir: string,
  say: (line: string) => void,
  tolerate?: V1Toleration,
): Promise<void> {
  const kc = new KeepAliveKubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const real = cluster.realNode;
  const names = await applyExamples(core, dir, {
    ...(real === undefined ? {} : { realNodeImage: real.images.busybox }),
    ...(tolerate === undefined ? {} : { tolerate }),
  });
  say(`applied ${names.length} example pods from ${dir}; waiting for them to be placed...`);
  const pods = await waitPlaced(core, names);
  const logged =
    real === undefined
      ? new Map<string, Record<string, string>>()
      : await loggedEnvs(core, pods, real.name);
  say(
    `examples placed${real === undefined ? "" : ` (env on ${real.name}: from the containers' logs)`}:`,
  );
  process.stdout.write(`${formatReport(reportPods(pods, cluster.kubelets, logged))}\n`);
}
