// The Helm chart (deploy/helm/hami): helm lint, helm template with default and other values, every
// rendered object accepted by the real kube-apiserver (server-side dry run: schemas, RBAC objects,
// the webhook's CEL matchConditions), the rendered device config accepted by our config loader and
// the rendered kube-scheduler configuration by the real kube-scheduler. kind itself is test/e2e.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { parseAllDocuments, parse } from "yaml";
import { connect } from "nats";
import { generateCA, generateClient, generateServing } from "../../src/certs/index.js";
import { loadConfigFile, parseNodeConfig } from "../../src/config/index.js";
import { natsPermissions, NatsRoles } from "../../src/events/index.js";
import {
  CLUSTER_BIN,
  controlPlaneMissing,
  startControlPlane,
  type ControlPlane,
} from "../helpers/control-plane.js";
import { startNats } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/net.js";
import { startScheduler } from "../helpers/scheduler.js";

const HELM = join(CLUSTER_BIN, "helm");
const CHART = "deploy/helm/hami";
const missing =
  controlPlaneMissing() ??
  (existsSync(HELM) ? undefined : "helm not built: run npm run cluster:build");

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
}

function run(
  bin: string,
  args: string[],
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(bin, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("close", (code) => {
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(input ?? "");
  });
}

const template = (...values: string[]) =>
  run(HELM, [
    "template",
    "hami",
    CHART,
    "--namespace",
    "kube-system",
    "--kube-version",
    "1.36.3",
    ...values.flatMap((v) => ["--set", v]),
  ]);

const manifests = (text: string): Manifest[] =>
  parseAllDocuments(text)
    .map((d) => d.toJSON() as Manifest | null)
    .filter((m): m is Manifest => m !== null);

/** The parts of a rendered pod template the tests read. */
interface PodSpec {
  securityContext?: { seccompProfile?: { type: string }; runAsNonRoot?: boolean };
  initContainers?: { name: string; securityContext?: Record<string, unknown> }[];
  containers: {
    name: string;
    securityContext?: { allowPrivilegeEscalation?: boolean };
    args?: string[];
    env?: { name: string; value?: string }[];
    volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  }[];
  automountServiceAccountToken?: boolean;
  topologySpreadConstraints?: unknown[];
  volumes: {
    name: string;
    secret?: { defaultMode?: number; items?: { key: string; path: string }[] };
    hostPath?: { path: string };
  }[];
}

const OTHER_VALUES = [
  "nats.enabled=false",
  "nats.url=nats://nats.example:4222",
  "nats.credentialsSecret=nats-creds",
  "devicePlugin.devices=file",
  "scheduler.replicas=2",
  "scheduler.nodePort.enabled=true",
  "devices.scheduler.defaultSchedulerPolicy.nodeSchedulerPolicy=fgd",
  "devices.nvidia.deviceSplitCount=4",
  "devices.nvidia.overwriteEnv=true",
  "devices.nvidia.defaultMem=2048",
  "webhook.standalone=false",
];

describe("Helm chart", { skip: missing }, () => {
  let plane: ControlPlane;
  let dir: string;

  before(async () => {
    plane = await startControlPlane();
    dir = await mkdtemp(join(tmpdir(), "hami-chart-"));
  });

  after(async () => {
    await plane?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Applies the default rendering's objects that `keep` selects to the test cluster; returns them. */
  async function applyRendered(keep: (m: Manifest) => boolean): Promise<Manifest[]> {
    const objects = manifests((await template()).stdout).filter(keep);
    const applied = await run(
      join(CLUSTER_BIN, "kubectl"),
      [`--kubeconfig=${plane.kubeconfig}`, "apply", "-f", "-"],
      objects.map((m) => JSON.stringify(m)).join("\n"),
    );
    assert.equal(applied.code, 0, applied.stderr);
    return objects;
  }

  const isRbac = (m: Manifest): boolean =>
    m.kind === "ServiceAccount" || m.kind.startsWith("Role") || m.kind.startsWith("ClusterRole");

  it("passes helm lint", async () => {
    const lint = await run(HELM, ["lint", CHART, "--strict", "--kube-version", "1.36.3"]);
    assert.equal(lint.code, 0, lint.stdout + lint.stderr);
  });

  it("helm template and lint need no --kube-version (helm built as its release is)", async () => {
    // cluster:build sets helm's Kubernetes version ldflags; without them helm assumes v1.20.0 and
    // the chart's kubeVersion ">=1.30.0-0" refuses to render.
    const rendered = await run(HELM, ["template", "hami", CHART]);
    assert.equal(rendered.code, 0, rendered.stderr);
    const lint = await run(HELM, ["lint", CHART, "--strict"]);
    assert.equal(lint.code, 0, lint.stdout + lint.stderr);
  });

  it("renders the runbook's objects with default values", async () => {
    const rendered = await template();
    assert.equal(rendered.code, 0, rendered.stderr);
    const names = manifests(rendered.stdout).map((m) => `${m.kind}/${m.metadata.name}`);
    for (const expected of [
      "Deployment/hami-scheduler",
      "DaemonSet/hami-device-plugin",
      "ConfigMap/hami-scheduler-device",
      "MutatingWebhookConfiguration/hami-webhook",
      "Job/hami-certgen-create",
      "Job/hami-certgen-patch",
      "StatefulSet/hami-nats",
      "Service/hami-scheduler",
      "Deployment/hami-webhook",
      "Service/hami-webhook",
      "PodDisruptionBudget/hami-webhook",
      "HorizontalPodAutoscaler/hami-webhook",
    ])
      assert.ok(names.includes(expected), `${expected} missing from ${names.join(", ")}`);
  });

  it("observability: the node monitor's port and Service, ServiceMonitors and the Grafana dashboard when asked", async () => {
    const plain = manifests((await template()).stdout);
    const agent = plain.find(
      (m) => m.kind === "DaemonSet" && m.metadata.name === "hami-device-plugin",
    );
    const args = JSON.stringify(agent);
    for (const flag of [
      "--monitor-port=9394",
      "--monitor-period=10",
      "--untracked-threshold-mib=1024",
      "--untracked-hold=300",
    ])
      assert.ok(args.includes(flag), `${flag} in the agent's args`);
    assert.ok(plain.some((m) => m.kind === "Service" && m.metadata.name === "hami-device-monitor"));
    assert.ok(
      !plain.some(
        (m) => m.kind === "ServiceMonitor" || m.metadata.name === "hami-grafana-dashboard",
      ),
    );
    const rendered = await template(
      "devicePlugin.monitor.serviceMonitor.enabled=true",
      "scheduler.serviceMonitor.enabled=true",
      "grafanaDashboard.enabled=true",
      "grafanaDashboard.namespace=monitoring",
    );
    assert.equal(rendered.code, 0, rendered.stderr);
    const objects = manifests(rendered.stdout);
    assert.deepEqual(
      objects
        .filter((m) => m.kind === "ServiceMonitor")
        .map((m) => m.metadata.name)
        .sort(),
      ["hami-device-monitor", "hami-scheduler"],
    );
    const dashboard = objects.find((m) => m.metadata.name === "hami-grafana-dashboard");
    assert.match(JSON.stringify(dashboard?.metadata), /"grafana_dashboard":"1"/);
    assert.equal(dashboard?.metadata.namespace, "monitoring");
    const json = JSON.parse(dashboard?.data?.["hami-ts.json"] ?? "") as {
      uid: string;
      panels: unknown[];
    };
    assert.equal(json.uid, "hami-ts-gpus");
    assert.ok(json.panels.length > 10);
    const off = manifests((await template("devicePlugin.monitor.enabled=false")).stdout);
    assert.ok(JSON.stringify(off).includes("--monitor-period=0"));
    assert.ok(!off.some((m) => m.metadata.name === "hami-device-monitor"));
  });

  it("HAMi's per-node config.json (devicePlugin.nodeConfiguration): a ConfigMap the agent reads, or an existing one", async () => {
    const values = join(dir, "node-config-values.yaml");
    const config =
      '{"nodeconfig": [{"name": "gpu-1", "devicesplitcount": 4, "filterdevices": {"uuid": [], "index": [1]}}]}';
    await writeFile(values, `devicePlugin:\n  nodeConfiguration:\n    config: '${config}'\n`);
    const rendered = await run(HELM, [
      "template",
      "hami",
      CHART,
      "--namespace",
      "kube-system",
      "-f",
      values,
    ]);
    assert.equal(rendered.code, 0, rendered.stderr);
    const objects = manifests(rendered.stdout);
    const map = objects.find(
      (m) => m.kind === "ConfigMap" && m.metadata.name === "hami-device-plugin",
    );
    const file = parseNodeConfig(map?.data?.["config.json"] ?? "", "config.json");
    assert.equal(file.nodeconfig?.[0]?.devicesplitcount, 4);
    const agent = JSON.stringify(objects.find((m) => m.kind === "DaemonSet"));
    assert.ok(agent.includes("--node-config=/node-config/config.json"));
    assert.ok(agent.includes('"configMap":{"name":"hami-device-plugin"}'), agent);
    const external = manifests(
      (await template("devicePlugin.nodeConfiguration.externalConfigName=site-gpu-config")).stdout,
    );
    assert.ok(
      !external.some((m) => m.kind === "ConfigMap" && m.metadata.name === "hami-device-plugin"),
    );
    assert.ok(JSON.stringify(external).includes('"configMap":{"name":"site-gpu-config"}'));
    assert.ok(!JSON.stringify(manifests((await template()).stdout)).includes("--node-config"));
  });

  for (const [label, values] of [
    ["default values", []],
    ["other values", OTHER_VALUES],
  ] as const) {
    it(`every object rendered with ${label} is accepted by the real kube-apiserver (server-side dry run)`, async () => {
      const rendered = await template(...values);
      assert.equal(rendered.code, 0, rendered.stderr);
      const applied = await run(
        join(CLUSTER_BIN, "kubectl"),
        [`--kubeconfig=${plane.kubeconfig}`, "apply", "--dry-run=server", "-f", "-"],
        rendered.stdout,
      );
      assert.equal(applied.code, 0, applied.stderr);
      assert.ok(
        applied.stdout.split("\n").filter((l) => l.includes("(server dry run)")).length >= 20,
        applied.stdout,
      );
    });
  }

  it("the webhook as its own Deployment: the MutatingWebhookConfiguration calls it, it gets no API token, spreads and keeps one replica through drains", async () => {
    interface Rendered {
      kind: string;
      metadata: { name: string };
      webhooks?: { clientConfig: { service: { name: string } } }[];
      spec?: {
        template?: { spec: PodSpec };
        minAvailable?: number;
        minReplicas?: number;
      };
      automountServiceAccountToken?: boolean;
    }
    const objects = async (...values: string[]) =>
      manifests((await template(...values)).stdout) as unknown as Rendered[];
    const find = (list: Rendered[], kind: string, name: string) =>
      list.find((m) => m.kind === kind && m.metadata.name === name);
    const standalone = await objects();
    const service = (list: Rendered[]) =>
      find(list, "MutatingWebhookConfiguration", "hami-webhook")?.webhooks?.map(
        (w) => w.clientConfig.service.name,
      );
    assert.deepEqual(service(standalone), ["hami-webhook"]);
    const pod = find(standalone, "Deployment", "hami-webhook")?.spec?.template?.spec;
    assert.equal(pod?.automountServiceAccountToken, false);
    assert.equal(
      find(standalone, "ServiceAccount", "hami-webhook")?.automountServiceAccountToken,
      false,
    );
    assert.equal(pod?.securityContext?.seccompProfile?.type, "RuntimeDefault");
    assert.deepEqual(pod?.containers[0]?.args?.slice(0, 1), ["webhook"]);
    assert.ok(
      pod?.containers[0]?.env?.some((e) => e.name === "NATS_USER" && e.value === "hami-webhook"),
      "its own NATS user",
    );
    assert.ok(Array.isArray(pod?.topologySpreadConstraints));
    assert.equal(find(standalone, "PodDisruptionBudget", "hami-webhook")?.spec?.minAvailable, 1);
    assert.equal(find(standalone, "HorizontalPodAutoscaler", "hami-webhook")?.spec?.minReplicas, 2);
    const schedulerArgs = find(standalone, "Deployment", "hami-scheduler")?.spec?.template?.spec
      .containers[0]?.args;
    assert.ok(schedulerArgs?.includes("--without-webhook"));
    // The serving certificate names the hami-webhook Service too.
    const create = find(standalone, "Job", "hami-certgen-create")?.spec?.template?.spec
      .containers[0]?.args;
    assert.ok(
      create?.some((a) => a.includes("hami-webhook.kube-system.svc")),
      create?.join(" "),
    );
    const inScheduler = await objects("webhook.standalone=false");
    assert.deepEqual(service(inScheduler), ["hami-scheduler"]);
    assert.equal(find(inScheduler, "Deployment", "hami-webhook"), undefined);
    assert.ok(
      !find(
        inScheduler,
        "Deployment",
        "hami-scheduler",
      )?.spec?.template?.spec.containers[0]?.args?.includes("--without-webhook"),
    );
  });

  it("a NetworkPolicy lets only hami's scheduler, webhook and device-plugin pods reach NATS", async () => {
    interface Policy {
      spec: {
        podSelector: { matchLabels: Record<string, string> };
        policyTypes: string[];
        ingress: {
          from: { podSelector?: { matchExpressions: { key: string; values: string[] }[] } }[];
          ports: { port: number }[];
        }[];
      };
    }
    const find = async (...values: string[]) =>
      manifests((await template(...values)).stdout).find(
        (m) => m.kind === "NetworkPolicy" && m.metadata.name === "hami-nats",
      ) as unknown as Policy | undefined;
    const policy = await find();
    assert.ok(policy, "NetworkPolicy/hami-nats rendered by default");
    assert.equal(policy.spec.podSelector.matchLabels["app.kubernetes.io/component"], "nats");
    assert.deepEqual(policy.spec.policyTypes, ["Ingress"]);
    assert.equal(policy.spec.ingress.length, 1);
    const rule = policy.spec.ingress[0];
    assert.deepEqual(
      rule?.from.map((peer) => peer.podSelector?.matchExpressions.map((e) => [e.key, e.values])),
      [
        [
          ["app.kubernetes.io/component", ["hami-scheduler", "hami-webhook", "hami-device-plugin"]],
          ["app.kubernetes.io/instance", ["hami"]],
        ],
      ],
    );
    assert.deepEqual(
      rule?.ports.map((p) => p.port),
      [4222],
    );
    assert.equal(await find("nats.networkPolicy.enabled=false"), undefined);
  });

  it("a missing required value is a clear error", async () => {
    const rendered = await template("nats.enabled=false");
    assert.notEqual(rendered.code, 0);
    assert.match(rendered.stderr, /nats.url is required when nats.enabled is false/);
  });

  it("hardening: only the serving pair mounted 0400, seccomp RuntimeDefault, HAMi-core read only", async () => {
    const rendered = await template();
    const spec = (kind: string, name: string): PodSpec =>
      (
        manifests(rendered.stdout).find(
          (m) => m.kind === kind && m.metadata.name === name,
        ) as unknown as {
          spec: { template: { spec: PodSpec } };
        }
      ).spec.template.spec;
    const scheduler = spec("Deployment", "hami-scheduler");
    const certs = scheduler.volumes.find((v) => v.name === "certs")?.secret;
    assert.equal(certs?.defaultMode, 0o400);
    assert.deepEqual(
      certs?.items?.map((i) => i.key),
      ["tls.crt", "tls.key", "ca.crt"],
      "never ca.key",
    );
    const kubeScheduler = spec("Deployment", "hami-kube-scheduler");
    const clientCerts = kubeScheduler.volumes.find((v) => v.name === "client-certs")?.secret;
    assert.equal(clientCerts?.defaultMode, 0o400);
    assert.deepEqual(
      clientCerts?.items?.map((i) => i.key),
      ["kube-scheduler.crt", "kube-scheduler.key", "ca.crt"],
      "its own pair, never ca.key or the serving key",
    );
    const plugin = spec("DaemonSet", "hami-device-plugin");
    for (const pod of [scheduler, kubeScheduler, plugin])
      assert.equal(pod.securityContext?.seccompProfile?.type, "RuntimeDefault");
    const init = plugin.initContainers?.[0]?.securityContext ?? {};
    assert.equal(init.allowPrivilegeEscalation, false);
    assert.equal(init.readOnlyRootFilesystem, true);
    const agent = plugin.containers.find((c) => c.name === "hami");
    const mounts = new Map(agent?.volumeMounts?.map((m) => [m.mountPath, m.readOnly === true]));
    assert.equal(mounts.get("/usr/local/vgpu"), true, "HAMi-core's files read only");
    assert.equal(mounts.get("/usr/local/vgpu/containers"), false, "the cache dirs writable");
    assert.equal(mounts.get("/usr/local/vgpu/state"), false, "and the served log's dir");
    assert.equal(
      mounts.get("/var/lib/kubelet/pod-resources"),
      true,
      "the kubelet's PodResources socket, read only",
    );
  });

  it("no label lets a pod with GPU resources run a privileged container (the apiserver's own policy)", async () => {
    const policy = await applyRendered(
      (m) =>
        m.kind.startsWith("ValidatingAdmissionPolicy") &&
        m.metadata.name === "hami-gpu-pods-not-privileged",
    );
    assert.equal(policy.length, 2);
    const kc = new KubeConfig();
    kc.loadFromFile(plane.kubeconfig);
    const core = kc.makeApiClient(CoreV1Api);
    const podWith = (name: string, gpu: boolean, privileged: boolean, init = false) => {
      const container = {
        name: "c",
        image: "cuda",
        securityContext: { privileged },
        resources: gpu ? { limits: { "nvidia.com/gpu": "1" } } : {},
      };
      return {
        metadata: { name, labels: { "hami.io/webhook": "ignore" } },
        spec: {
          schedulerName: "hami-scheduler",
          containers: init
            ? [{ name: "app", image: "cuda", securityContext: { privileged } }]
            : [container],
          ...(init
            ? { initContainers: [{ ...container, name: "init", securityContext: {} }] }
            : {}),
        },
      };
    };
    const create = (body: ReturnType<typeof podWith>) =>
      core.createNamespacedPod({ namespace: "default", body }).then(
        () => "created",
        (error: unknown) => String((error as { body?: string }).body ?? error),
      );
    // The policy takes a moment to be loaded by the apiserver's admission chain.
    await waitFor("policy in force", async () => {
      const answer = await create(podWith(`probe-${Date.now()}`, true, true));
      return answer.includes("may not have a privileged container") ? answer : undefined;
    });
    assert.match(await create(podWith("gpu-privileged", true, true)), /Forbidden|may not have/);
    assert.match(
      await create(podWith("gpu-init-privileged-app", true, true, true)),
      /may not have a privileged container/,
      "a GPU init container next to a privileged app container",
    );
    assert.equal(await create(podWith("gpu-plain", true, false)), "created");
    assert.equal(await create(podWith("privileged-no-gpu", false, true)), "created");
  });

  it("RBAC, checked by the real apiserver: certgen reaches only its Secret, kube-scheduler only its Lease, the extender none of kube-scheduler's rights", async () => {
    await applyRendered(isRbac);
    const can = async (account: string, verb: string, resource: string): Promise<boolean> => {
      const answer = await run(join(CLUSTER_BIN, "kubectl"), [
        `--kubeconfig=${plane.kubeconfig}`,
        "auth",
        "can-i",
        verb,
        resource,
        "--namespace=kube-system",
        `--as=system:serviceaccount:kube-system:${account}`,
      ]);
      return answer.stdout.trim() === "yes";
    };
    assert.equal(await can("hami-certgen", "get", "secret/hami-scheduler-tls"), true);
    assert.equal(await can("hami-certgen", "update", "secret/hami-scheduler-tls"), true);
    for (const verb of ["get", "update", "list"])
      assert.equal(await can("hami-certgen", verb, "secret/other"), false, `certgen ${verb}`);
    assert.equal(await can("hami-kube-scheduler", "update", "lease/hami-scheduler"), true);
    assert.equal(
      await can("hami-kube-scheduler", "update", "lease/kube-controller-manager"),
      false,
      "another component's Lease",
    );
    // kube-scheduler and the extender have separate ServiceAccounts: the extender cannot do what
    // only kube-scheduler needs, and kube-scheduler cannot write what only the extender writes.
    const onlyKubeScheduler = [
      ["delete", "pods"],
      ["patch", "persistentvolumes"],
      ["list", "persistentvolumeclaims"],
      ["update", "lease/hami-scheduler"],
    ];
    for (const [verb, resource] of onlyKubeScheduler) {
      assert.equal(await can("hami-kube-scheduler", verb!, resource!), true, `${verb} ${resource}`);
      assert.equal(
        await can("hami-scheduler", verb!, resource!),
        false,
        `extender ${verb} ${resource}`,
      );
    }
    for (const [verb, resource] of [
      ["patch", "pods"],
      ["patch", "nodes"],
      ["update", "lease/hami-extender"],
    ]) {
      assert.equal(
        await can("hami-scheduler", verb!, resource!),
        true,
        `extender ${verb} ${resource}`,
      );
      assert.equal(
        await can("hami-kube-scheduler", verb!, resource!),
        false,
        `${verb} ${resource}`,
      );
    }
  });

  it("the node agent changes only hami annotations of its own Node and its node's pods, and its own Lease", async () => {
    await applyRendered((m) => isRbac(m) || m.kind.startsWith("ValidatingAdmissionPolicy"));
    const kubectl = (args: string[], input?: string, kubeconfig = plane.kubeconfig) =>
      run(join(CLUSTER_BIN, "kubectl"), [`--kubeconfig=${kubeconfig}`, ...args], input);
    const kc = new KubeConfig();
    kc.loadFromFile(plane.kubeconfig);
    const core = kc.makeApiClient(CoreV1Api);
    for (const node of ["agent-n1", "agent-n2"]) {
      await core.createNode({ body: { metadata: { name: node } } });
      await core.createNamespacedPod({
        namespace: "default",
        body: {
          metadata: { name: `on-${node}` },
          spec: { nodeName: node, containers: [{ name: "c", image: "cuda" }] },
        },
      });
    }
    // The agent of agent-n1, as its pod-bound token presents it (impersonated here).
    const raw = parse(await readFile(plane.kubeconfig, "utf8")) as {
      users: { user: Record<string, unknown> }[];
    };
    for (const u of raw.users)
      Object.assign(u.user, {
        as: "system:serviceaccount:kube-system:hami-device-plugin",
        "as-groups": ["system:serviceaccounts", "system:authenticated"],
        "as-user-extra": { "authentication.kubernetes.io/node-name": ["agent-n1"] },
      });
    const agentConfig = join(dir, "agent-kubeconfig");
    await writeFile(agentConfig, JSON.stringify(raw));
    const asAgent = async (args: string[]): Promise<string> => {
      const answer = await kubectl(args, undefined, agentConfig);
      return answer.code === 0 ? "allowed" : answer.stderr;
    };
    const annotate = (kind: string, name: string, key: string) => [
      "annotate",
      kind,
      name,
      "-n",
      "default",
      "--overwrite",
      `${key}=x`,
    ];
    await waitFor("policy in force", async () => {
      const answer = await asAgent(annotate("pod", "on-agent-n2", "hami.io/bind-phase"));
      return answer.includes("may only update its own Node") ? true : undefined;
    });
    assert.equal(await asAgent(annotate("pod", "on-agent-n1", "hami.io/bind-phase")), "allowed");
    assert.equal(
      await asAgent(annotate("node", "agent-n1", "hami.io/node-nvidia-register")),
      "allowed",
    );
    assert.match(
      await asAgent(annotate("pod", "on-agent-n1", "team")),
      /only change hami.io\/ annotations/,
    );
    assert.match(
      await asAgent(["label", "pod", "on-agent-n1", "-n", "default", "x=y"]),
      /only change hami.io\/ annotations/,
    );
    assert.match(
      await asAgent([
        "patch",
        "pod",
        "on-agent-n1",
        "-n",
        "default",
        "-p",
        '{"spec":{"containers":[{"name":"c","image":"evil"}]}}',
      ]),
      /only change hami.io\/ annotations/,
      "no image change",
    );
    assert.match(
      await asAgent(["patch", "node", "agent-n1", "-p", '{"spec":{"unschedulable":true}}']),
      /only change hami.io\/ annotations/,
      "no cordon",
    );
    assert.match(
      await asAgent(annotate("node", "agent-n2", "hami.io/node-nvidia-register")),
      /may only update its own Node/,
    );
    const lease = (name: string) =>
      JSON.stringify({
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name, namespace: "kube-system" },
        spec: { holderIdentity: "agent-n1" },
      });
    const createLease = async (name: string) => {
      const answer = await kubectl(["create", "-f", "-"], lease(name), agentConfig);
      return answer.code === 0 ? "allowed" : answer.stderr;
    };
    assert.equal(await createLease("hami-agent-agent-n1"), "allowed");
    assert.match(
      await createLease("kube-controller-manager"),
      /may only write Lease hami-agent-agent-n1/,
    );
    assert.equal((await kubectl(["create", "-f", "-"], lease("hami-agent-agent-n2"))).code, 0);
    const deleteLease = async (name: string) => {
      const answer = await kubectl(["delete", "lease", name, "-n", "kube-system"], "", agentConfig);
      return answer.code === 0 ? "allowed" : answer.stderr;
    };
    assert.match(
      await deleteLease("hami-agent-agent-n2"),
      /may only write Lease hami-agent-agent-n1/,
    );
    assert.equal(await deleteLease("hami-agent-agent-n1"), "allowed", "its own, on stop");
  });

  it("the chart's NATS: the permissions of src/events, TLS with certgen's pair, and a real nats-server refusing plain, anonymous and forged clients", async () => {
    const rendered = await template();
    const secret = manifests(rendered.stdout).find(
      (m) => m.kind === "Secret" && m.metadata.name === "hami-nats-users",
    ) as unknown as { stringData: Record<string, string> };
    const conf = secret.stringData["nats.conf"] ?? "";
    for (const role of NatsRoles) {
      const line = conf.split("\n").find((l) => l.includes(`user: "hami-${role}"`)) ?? "";
      const allowed = /publish: \{ allow: \[(.*?)\] \}/.exec(line)?.[1] ?? "";
      assert.deepEqual(
        allowed.split(", ").map((s) => JSON.parse(s) as string),
        natsPermissions(role).publish,
        `${role}: the chart and src/events/nats-permissions.ts agree`,
      );
    }
    // The TLS pair it names is the one the StatefulSet mounts from certgen's Secret.
    const statefulSet = manifests(rendered.stdout).find(
      (m) => m.kind === "StatefulSet" && m.metadata.name === "hami-nats",
    ) as unknown as { spec: { template: { spec: PodSpec } } };
    const natsPod = statefulSet.spec.template.spec;
    const tlsMount = natsPod.containers[0]?.volumeMounts?.find((m) => m.name === "tls");
    const tlsVolume = natsPod.volumes.find((v) => v.name === "tls")?.secret;
    const tlsFiles = (tlsVolume?.items ?? []).map((i) => `${tlsMount?.mountPath}/${i.path}`);
    assert.deepEqual(tlsFiles, ["/etc/nats-tls/nats.crt", "/etc/nats-tls/nats.key"]);
    for (const path of tlsFiles) assert.ok(conf.includes(`"${path}"`), `${path} in nats.conf`);
    const ca = generateCA({ commonName: "chart-nats-ca", now: new Date() });
    const pair = generateServing(ca, { hosts: ["127.0.0.1", "localhost"], now: new Date() });
    await writeFile(join(dir, "nats.crt"), pair.cert);
    await writeFile(join(dir, "nats.key"), pair.key, { mode: 0o600 });
    const file = join(dir, "nats.conf");
    await writeFile(file, conf.replaceAll("/etc/nats-tls/", `${dir}/`));
    const password = (role: string) => secret.stringData[`${role}-password`] ?? "";
    const tls = { ca: ca.cert };
    const server = await startNats({
      args: ["-c", file],
      probe: { user: "hami-audit", pass: password("audit"), tls },
    });
    try {
      await assert.rejects(
        connect({ servers: server.url, reconnect: false, tls }),
        /Authorization/i,
      );
      await assert.rejects(
        connect({
          servers: server.url,
          reconnect: false,
          user: "hami-audit",
          pass: password("audit"),
          tls: null,
        }),
        /tls|secure/i,
        "TLS only",
      );
      const node = await connect({
        servers: server.url,
        reconnect: false,
        user: "hami-node",
        pass: password("node"),
        tls,
      });
      const forged = await node
        .jetstream()
        .publish("hami.events.allocation.n1", new TextEncoder().encode("{}"), { timeout: 2000 })
        .then(
          () => "published",
          (error: unknown) => String(error),
        );
      await node.close();
      assert.notEqual(forged, "published", "a node agent cannot forge an allocation");
    } finally {
      await server.cleanup();
    }
  });

  it("every NATS client checks the chart's NATS with certgen's CA, mounted into its container", async () => {
    const objects = manifests((await template()).stdout);
    const certgen = objects.find(
      (m) => m.kind === "Job" && m.metadata.name === "hami-certgen-create",
    );
    assert.match(JSON.stringify(certgen), /--server=nats=hami-nats/);
    for (const [kind, name] of [
      ["Deployment", "hami-scheduler"],
      ["DaemonSet", "hami-device-plugin"],
    ] as const) {
      const pod = (
        objects.find((m) => m.kind === kind && m.metadata.name === name) as unknown as {
          spec: { template: { spec: PodSpec } };
        }
      ).spec.template.spec;
      const hami = pod.containers.find((c) => c.name === "hami");
      const ca = hami?.env?.find((e) => e.name === "NATS_TLS_CA")?.value ?? "";
      const mounted = (hami?.volumeMounts ?? []).flatMap((m) =>
        (pod.volumes.find((v) => v.name === m.name)?.secret?.items ?? []).map(
          (i) => `${m.mountPath}/${i.path}`,
        ),
      );
      assert.ok(mounted.includes(ca), `${name}: NATS_TLS_CA=${ca} is one of ${mounted.join(", ")}`);
    }
  });

  it("the rendered ConfigMap is a valid hami config, and its values reach it", async () => {
    const rendered = await template(...OTHER_VALUES);
    const configMap = manifests(rendered.stdout).find(
      (m) => m.kind === "ConfigMap" && m.metadata.name === "hami-scheduler-device",
    );
    assert.ok(configMap);
    const file = join(dir, "device-config.yaml");
    await writeFile(file, JSON.stringify(configMap));
    const loaded = await loadConfigFile(file);
    assert.deepEqual(loaded.warnings, []);
    assert.equal(loaded.config.nvidia.deviceSplitCount, 4);
    assert.equal(loaded.config.nvidia.defaultMemory, 2048, "the chart value defaultMem");
    assert.equal(loaded.config.scheduler.defaultSchedulerPolicy.nodeSchedulerPolicy, "fgd");
  });

  it("the rendered kube-scheduler configuration names the files its Deployment mounts, and starts the real kube-scheduler", async () => {
    const objects = manifests((await template()).stdout);
    const configMap = objects.find((m) => m.metadata.name === "hami-scheduler-config");
    const config = parse(configMap?.data?.["kube-scheduler-config.yaml"] ?? "") as {
      extenders: { urlPrefix: string; tlsConfig: Record<string, string> }[];
    };
    const extender = config.extenders[0]!;
    assert.equal(extender.urlPrefix, "https://hami-scheduler-extender.kube-system.svc:8888");
    // That Service reaches only the elected extender: the pod its leader labels.
    const service = objects.find(
      (m) => m.kind === "Service" && m.metadata.name === "hami-scheduler-extender",
    ) as unknown as { spec: { selector: Record<string, string> } };
    assert.equal(service.spec.selector["hami.io/extender-leader"], "true");
    assert.equal(service.spec.selector["app.kubernetes.io/component"], "hami-scheduler");
    const certgen = objects.find((m) => m.metadata.name === "hami-certgen-create");
    assert.match(JSON.stringify(certgen), /--host=hami-scheduler-extender\.kube-system\.svc/);
    const deployment = objects.find(
      (m) => m.kind === "Deployment" && m.metadata.name === "hami-kube-scheduler",
    ) as unknown as { spec: { template: { spec: PodSpec } } };
    const pod = deployment.spec.template.spec;
    const mount = pod.containers[0]?.volumeMounts?.find((m) => m.name === "client-certs");
    const items = pod.volumes.find((v) => v.name === "client-certs")?.secret?.items ?? [];
    assert.deepEqual(
      Object.values(extender.tlsConfig).sort(),
      items.map((i) => `${mount?.mountPath}/${i.path}`).sort(),
    );
    const ca = generateCA({ commonName: "chart-ca", now: new Date() });
    const client = generateClient(ca, { commonName: "hami-kube-scheduler", now: new Date() });
    const files = { certFile: client.cert, keyFile: client.key, caFile: ca.cert };
    for (const [field, text] of Object.entries(files)) {
      extender.tlsConfig[field] = join(dir, `kube-scheduler-${field}`);
      await writeFile(extender.tlsConfig[field], text, { mode: 0o600 });
    }
    const scheduler = await startScheduler(plane, config);
    await scheduler.stop();
  });
});
