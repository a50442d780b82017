// The whole system on a REAL node: kubelet v1.36 + containerd + runc (src/local/real-node.ts) joined to
// the harness's kube-apiserver, with the webhook, the extender, the real kube-scheduler, nats-server and
// `hami node` as in `hami local`. Only the GPUs (a mock device file) and HAMi-core's library (a marker
// file, simulated-hami-core.ts) are simulated. Real containers (busybox-static) print the environment
// and mounts Allocate gave them, read back with `kubectl logs`. The last test stops everything and
// checks the machine is as it was.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { CoreV1Api, KubeConfig, type V1Container, type V1Pod } from "@kubernetes/client-node";
import {
  parseEnvLines,
  realNodeMissing,
  startLocal,
  type LocalCluster,
} from "../../src/local/index.js";
import { controlPlaneMissing, kubectl } from "../helpers/control-plane.js";
import { hostState, type HostState } from "../helpers/host-state.js";
import { podResourcesOf, startSlotPlugin } from "../helpers/slot-plugin.js";
import { waitFor } from "../helpers/net.js";

const missing = controlPlaneMissing() ?? realNodeMissing();
const NODE = "hami-real-node";
const GPUS = 2;
const SPLIT = 25; // 50 slots: the 50-pod burst fits at once
const SLOT = "hami-ts.test/slot";
const MAIN = resolve(import.meta.dirname, "../../src/cli/main.ts");
const HAMI_IMAGE = resolve(import.meta.dirname, "../cluster/images/hami.sh");
const execFileAsync = promisify(execFile);

describe("real node: kubelet + containerd + runc with hami (mock GPUs)", { skip: missing }, () => {
  let cluster: LocalCluster | undefined;
  let core: CoreV1Api;
  let before_: HostState;
  let hook = "";

  /** A busybox container that prints what HAMi-core would see: its limits and mounts. */
  function container(
    name: string,
    limits: Record<string, string>,
    env: V1Container["env"] = [],
  ): V1Container {
    const script = [
      "env | grep -E '^(NVIDIA_VISIBLE_DEVICES|CUDA_)' | sort",
      `for p in /etc/ld.so.preload ${hook}/vgpu/libvgpu.so /tmp/vgpulock ${hook}/vgpu; do`,
      '  if [ -f "$p" ]; then echo "$p=file"; elif [ -d "$p" ]; then echo "$p=dir"; else echo "$p=absent"; fi',
      "done",
    ].join("\n");
    return {
      name,
      image: cluster?.realNode?.images.busybox ?? "",
      imagePullPolicy: "Never",
      command: ["sh", "-c", script],
      env,
      resources: { limits },
    };
  }

  async function run(
    name: string,
    containers: V1Container[],
    initContainers: V1Container[] = [],
  ): Promise<V1Pod> {
    await core.createNamespacedPod({
      namespace: "default",
      body: {
        metadata: { name },
        spec: { containers, initContainers, restartPolicy: "Never" },
      },
    });
    return waitFor(
      `${name} Succeeded`,
      async () => {
        const pod = await core.readNamespacedPod({ namespace: "default", name });
        if (pod.status?.phase === "Failed")
          throw new Error(
            `${name} failed: ${JSON.stringify(pod.status)}\nkubelet:\n${(await cluster?.realNode?.tail("kubelet")) ?? ""}`,
          );
        return pod.status?.phase === "Succeeded" ? pod : undefined;
      },
      90_000,
    );
  }

  /** `kubectl logs` of one container as NAME=VALUE pairs. */
  async function logs(pod: string, container: string): Promise<Record<string, string>> {
    return parseEnvLines(await kubectl(cluster!, ["logs", pod, "-c", container]));
  }

  /** What a stuck pod's story is: its description and events, the node, the agent's and kubelet's
   * last lines. */
  async function diagnose(pod: string): Promise<string> {
    const show = (args: string[]): Promise<string> =>
      kubectl(cluster!, args).catch((error: unknown) => String(error));
    return [
      await show(["describe", "pod", pod]),
      await show(["describe", "node", NODE]),
      await show(["get", "events", "-A", "--sort-by=.lastTimestamp"]),
      `agent:\n${(await readFile(join(cluster!.dir, `${NODE}.log`), "utf8").catch(() => "")).slice(-8_000)}`,
      `scheduler:\n${(await readFile(join(cluster!.dir, "hami-scheduler.log"), "utf8").catch(() => "")).slice(-6_000)}`,
      `kubelet:\n${(await cluster?.realNode?.tail("kubelet")) ?? ""}`,
    ].join("\n");
  }

  const allocatable = async (): Promise<string | undefined> =>
    (await core.readNode({ name: NODE })).status?.allocatable?.["nvidia.com/gpu"];

  before(async () => {
    before_ = hostState();
    cluster = await startLocal({
      hami: [process.execPath, "--import", "tsx", MAIN],
      env: { ...process.env, LOG_LEVEL: "info" },
      nodes: [
        {
          name: NODE,
          gpus: { uuidPrefix: "GPU-real", type: "Tesla T4", memoryMiB: 15_360, count: GPUS },
        },
      ],
      splitCount: SPLIT,
      realNode: true,
      say: () => undefined,
    });
    hook = join(cluster.dir, "hook");
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
  });

  after(async () => {
    await cluster?.stop();
  });

  it("the kubelet publishes GPUs x split from our device plugin; the node is Ready", async () => {
    assert.equal(await allocatable(), String(GPUS * SPLIT));
    await waitFor(
      "node Ready",
      async () =>
        (await core.readNode({ name: NODE })).status?.conditions?.find((c) => c.type === "Ready")
          ?.status === "True"
          ? true
          : undefined,
      60_000,
    );
  });

  it("MiB and cores: the container sees its limits and HAMi-core's files with the right types", async () => {
    await run("mib", [
      container("main", {
        "nvidia.com/gpu": "1",
        "nvidia.com/gpumem": "3000",
        "nvidia.com/gpucores": "30",
      }),
    ]);
    const seen = await logs("mib", "main");
    assert.equal(seen.CUDA_DEVICE_MEMORY_LIMIT_0, "3000m");
    assert.equal(seen.CUDA_DEVICE_SM_LIMIT, "30");
    assert.match(seen.NVIDIA_VISIBLE_DEVICES ?? "", /^GPU-real-[01]$/);
    assert.match(
      seen.CUDA_DEVICE_MEMORY_SHARED_CACHE ?? "",
      new RegExp(`^${hook}/vgpu/.+\\.cache$`),
    );
    assert.equal(seen["/etc/ld.so.preload"], "file", "not a directory made by containerd");
    assert.equal(seen[`${hook}/vgpu/libvgpu.so`], "file");
    assert.equal(seen["/tmp/vgpulock"], "dir");
    assert.equal(seen[`${hook}/vgpu`], "dir");
  });

  it("percentage and two GPUs", async () => {
    await run("percent", [
      container("main", { "nvidia.com/gpu": "1", "nvidia.com/gpumem-percentage": "50" }),
    ]);
    assert.equal((await logs("percent", "main")).CUDA_DEVICE_MEMORY_LIMIT_0, "7680m");
    await run("two-gpus", [
      container("main", { "nvidia.com/gpu": "2", "nvidia.com/gpumem": "2000" }),
    ]);
    const seen = await logs("two-gpus", "main");
    assert.equal(seen.CUDA_DEVICE_MEMORY_LIMIT_0, "2000m");
    assert.equal(seen.CUDA_DEVICE_MEMORY_LIMIT_1, "2000m");
    assert.deepEqual(seen.NVIDIA_VISIBLE_DEVICES?.split(",").sort(), ["GPU-real-0", "GPU-real-1"]);
  });

  it("an init container and two containers each get exactly their own limits", async () => {
    await run(
      "multi",
      [
        container("c0", { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "1500" }),
        container("c1", {
          "nvidia.com/gpu": "1",
          "nvidia.com/gpumem": "2500",
          "nvidia.com/gpucores": "20",
        }),
      ],
      [container("init", { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "1000" })],
    );
    const [init, c0, c1] = await Promise.all([
      logs("multi", "init"),
      logs("multi", "c0"),
      logs("multi", "c1"),
    ]);
    assert.equal(init.CUDA_DEVICE_MEMORY_LIMIT_0, "1000m");
    assert.equal(c0.CUDA_DEVICE_MEMORY_LIMIT_0, "1500m");
    assert.equal(c1.CUDA_DEVICE_MEMORY_LIMIT_0, "2500m");
    assert.equal(c1.CUDA_DEVICE_SM_LIMIT, "20");
  });

  it("the real kubelet's PodResources List frees the devices of an Allocate in flight; Get does not", async () => {
    // Why the agent checks each answer with Get, never List (src/node/verify.ts). The kubelet marks
    // a device in use when it picks it and records the pod's allocation only once Allocate returns;
    // List first drops ended pods and, when it drops one, rebuilds the in-use set from the records
    // alone (pkg/kubelet/cm/devicemanager/manager.go, v1.36.3). A List while an Allocate is in
    // flight, after a pod ended, so frees the device being allocated: the kubelet gives it again
    // and two running pods hold one ID (its fit check still counts pods against allocatable).
    // With 5-second pods in the burst below, the agent's own List after each answer did this.
    const kubelet = join(cluster?.realNode?.dir ?? "", "kubelet");
    const slots = await startSlotPlugin(cluster?.realNode?.pluginDir ?? "", SLOT, 4);
    const api = podResourcesOf(kubelet);
    const slotPod = (name: string): V1Pod => ({
      metadata: { name },
      spec: {
        nodeName: NODE,
        restartPolicy: "Never",
        terminationGracePeriodSeconds: 2,
        containers: [
          {
            name: "main",
            image: cluster?.realNode?.images.busybox ?? "",
            imagePullPolicy: "Never",
            command: ["sleep", "3600"],
            resources: { limits: { [SLOT]: "1" } },
          },
        ],
      },
    });
    const phase = async (name: string) =>
      (await core.readNamespacedPod({ namespace: "default", name })).status?.phase;
    const settled = (name: string) =>
      waitFor(
        `${name} admitted or refused`,
        async () => {
          const p = await phase(name);
          return p === "Running" || p === "Failed" ? p : undefined;
        },
        60_000,
      );
    /** Ends pod `gone` while `held`'s Allocate waits, reads PodResources meanwhile with `read`,
     * then asks for every device the kubelet should have left: `fill` more pods. */
    async function scenario(tag: string, read: () => Promise<unknown>) {
      const gone = `${tag}-gone`;
      const held = `${tag}-held`;
      const fill = [0, 1, 2, 3].map((i) => `${tag}-${i}`);
      await waitFor(
        `${SLOT} allocatable`,
        async () =>
          (await core.readNode({ name: NODE })).status?.allocatable?.[SLOT] === "4"
            ? true
            : undefined,
        60_000,
      );
      await core.createNamespacedPod({ namespace: "default", body: slotPod(gone) });
      assert.equal(await settled(gone), "Running");
      // Deleted with a 2 s grace: the kubelet ends it on its own time, in the pod's worker.
      await core.deleteNamespacedPod({ namespace: "default", name: gone, gracePeriodSeconds: 2 });
      await new Promise((r) => setTimeout(r, 500));
      const release = slots.hold();
      const calls = slots.calls.length;
      await core.createNamespacedPod({ namespace: "default", body: slotPod(held) });
      await waitFor(`${held}'s Allocate`, () => (slots.calls.length > calls ? true : undefined));
      await waitFor(
        `${gone} gone`,
        async () =>
          (await core.listNamespacedPod({ namespace: "default" })).items.some(
            (p) => p.metadata?.name === gone,
          )
            ? undefined
            : true,
        60_000,
      );
      for (let i = 0; i < 4; i++) {
        await read();
        await new Promise((r) => setTimeout(r, 250));
      }
      release();
      assert.equal(await settled(held), "Running");
      const outcomes: string[] = [];
      for (const name of fill) {
        await core.createNamespacedPod({ namespace: "default", body: slotPod(name) });
        outcomes.push((await settled(name)) ?? "");
      }
      const running = [held, ...fill.filter((_, i) => outcomes[i] === "Running")];
      const ids = await Promise.all(
        running.map(async (name) =>
          (await api.get("default", name)).containers[0]?.devices.flatMap((d) => d.device_ids),
        ),
      );
      await Promise.all(
        [held, ...fill].map((name) =>
          core.deleteNamespacedPod({ namespace: "default", name, gracePeriodSeconds: 0 }),
        ),
      );
      await waitFor(
        `${tag} pods gone`,
        async () =>
          (await core.listNamespacedPod({ namespace: "default" })).items.some((p) =>
            p.metadata?.name?.startsWith(`${tag}-`),
          )
            ? undefined
            : true,
        60_000,
      );
      return { outcomes, ids: ids.flat().sort() };
    }
    try {
      // The kubelet's own fit check refuses the fifth pod either way (4 allocatable); with List,
      // two of the four running pods hold one device ID.
      const listed = await scenario("list", () => api.list());
      assert.deepEqual(listed.outcomes, ["Running", "Running", "Running", "Failed"]);
      assert.deepEqual(listed.ids, ["SLOT-0", "SLOT-1", "SLOT-1", "SLOT-2"], "SLOT-1 given twice");
      const got = await scenario("get", () => api.get("default", "get-held"));
      assert.deepEqual(got.outcomes, ["Running", "Running", "Running", "Failed"]);
      assert.deepEqual(got.ids, ["SLOT-0", "SLOT-1", "SLOT-2", "SLOT-3"]);
    } finally {
      api.close();
      await slots.stop();
    }
  });

  it("a burst of same-shape pods with different limits: every container gets its own pod's limit", async (t) => {
    // Allocate names no pod and the real kubelet admits a burst in its own order: without the bind
    // guard (a pod waits while a confusable one awaits Allocate) 4 of 20 got another pod's limit.
    const names = Array.from({ length: 50 }, (_, i) => `burst-${i}`);
    const limit = (i: number) => String(100 + i);
    // Each ends 5 s after printing its env, so devices of the burst are freed and given again while
    // it starts (about 25 s: same-shape binds on one node go one at a time). When the agent read
    // PodResources List after each answer, 2 of 5 runs here had the kubelet give burst-42 device
    // GPU-real-0-6 while running burst-44 held it (burst-33 had ended holding it): the List freed
    // it during burst-44's Allocate (the test above), and the check reported a mismatch although
    // every container got its own limit. The agent now reads Get of the served pod only.
    const lingering = (i: number): V1Container => {
      const c = container("main", { "nvidia.com/gpu": "1", "nvidia.com/gpumem": limit(i) });
      c.command = ["sh", "-c", `${c.command?.[2] ?? ""}\nsleep 5`];
      return c;
    };
    await Promise.all(
      names.map((name, i) =>
        core.createNamespacedPod({
          namespace: "default",
          body: {
            metadata: { name },
            spec: {
              restartPolicy: "Never",
              containers: [lingering(i)],
            },
          },
        }),
      ),
    );
    await waitFor(
      "the burst finished",
      async () => {
        const pods = (await core.listNamespacedPod({ namespace: "default" })).items.filter((p) =>
          names.includes(p.metadata?.name ?? ""),
        );
        return pods.every((p) => ["Succeeded", "Failed"].includes(p.status?.phase ?? ""))
          ? true
          : undefined;
      },
      180_000,
    );
    const seen = await Promise.all(names.map((name) => logs(name, "main")));
    assert.deepEqual(
      seen.map((env) => env.CUDA_DEVICE_MEMORY_LIMIT_0),
      names.map((_, i) => `${limit(i)}m`),
    );
    // After each Allocate the agent read the real kubelet's PodResources API. Never a mismatch, and
    // never silence: each answer is verified, or logged unverified with its reason, printed here.
    // The check runs in the background (retries, each Get up to 5 s on a busy kubelet), so the
    // outcome of each answer is waited for.
    const readAgentLog = async () =>
      (
        await readFile(join(cluster?.dir ?? "", `${cluster?.realNode?.name ?? ""}.log`), "utf8")
      ).split("\n");
    let agentLog = await readAgentLog();
    const about = (name: string) =>
      agentLog.filter((line) => line.includes(`"pod":"default/${name}",`));
    const outcome = (name: string) =>
      about(name).some((l) => l.includes('"reason":"verified"'))
        ? "verified"
        : about(name).find((l) => /allocation not verified|allocation mismatch/.test(l));
    await waitFor(
      "every answer checked",
      async () => {
        agentLog = await readAgentLog();
        return names.every((name) => outcome(name) !== undefined) ? true : undefined;
      },
      60_000,
    ).catch((error: unknown) => {
      const unchecked = names.filter((name) => outcome(name) === undefined);
      throw new Error(`${String(error)}; no outcome for ${unchecked.join(", ")}`);
    });
    for (const name of names)
      if (outcome(name) !== "verified") t.diagnostic(`${name}: ${outcome(name) ?? ""}`);
    assert.deepEqual(
      agentLog.filter((line) => /allocation mismatch|allocation check failed/.test(line)),
      [],
    );
    assert.ok(
      names.filter((name) => outcome(name) === "verified").length > 0,
      "the kubelet's PodResources API was read",
    );
    await Promise.all(
      names.map((name) =>
        core.deleteNamespacedPod({ namespace: "default", name, gracePeriodSeconds: 0 }),
      ),
    );
  });

  it("CUDA_DISABLE_CONTROL=true: limits in the env, none of HAMi-core's mounts", async () => {
    await run("nocontrol", [
      container("main", { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "100" }, [
        { name: "CUDA_DISABLE_CONTROL", value: "true" },
      ]),
    ]);
    const seen = await logs("nocontrol", "main");
    assert.equal(seen.CUDA_DEVICE_MEMORY_LIMIT_0, "100m");
    assert.equal(seen["/etc/ld.so.preload"], "absent");
    assert.equal(seen[`${hook}/vgpu/libvgpu.so`], "absent");
  });

  it("kubelet restart: allocatable comes back and the next pod is served", async () => {
    await cluster?.realNode?.restartKubelet();
    await waitFor(
      "allocatable back after the kubelet restart",
      async () => ((await allocatable()) === String(GPUS * SPLIT) ? true : undefined),
      60_000,
    );
    await run("after-kubelet", [
      container("main", { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "1234" }),
    ]);
    assert.equal((await logs("after-kubelet", "main")).CUDA_DEVICE_MEMORY_LIMIT_0, "1234m");
  });

  it("agent restart: a pod created while the agent is down waits unbound, then the new agent serves it", async () => {
    // The real kubelet fails a pod it admits while the plugin is gone (UnexpectedAdmissionError), so
    // the stopping agent deletes its Lease and the extender places nothing here until it is back.
    const agent = cluster?.agents.get(NODE);
    await agent?.stop();
    const pending = run("after-agent", [
      container("main", { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "2222" }),
    ]);
    await new Promise((r) => setTimeout(r, 3_000));
    const waiting = await core.readNamespacedPod({ namespace: "default", name: "after-agent" });
    assert.equal(waiting.status?.phase, "Pending");
    assert.equal(waiting.spec?.nodeName, undefined, "not bound while the agent is down");
    await agent?.start();
    await pending;
    assert.equal((await logs("after-agent", "main")).CUDA_DEVICE_MEMORY_LIMIT_0, "2222m");
  });

  it("NATS down: Allocate is served from the API", async () => {
    await cluster?.natsServer.stop();
    try {
      await run("no-nats", [
        container("main", { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "999" }),
      ]);
      assert.equal((await logs("no-nats", "main")).CUDA_DEVICE_MEMORY_LIMIT_0, "999m");
    } finally {
      await cluster?.natsServer.start();
    }
  });

  it(
    "the node agent from our own image, as a pod on the real node (host network), serves Allocate",
    { timeout: 300_000 },
    async () => {
      // Our image made without Docker (test/cluster/images/hami.sh: this machine's node binary, dist/
      // and production node_modules, packed by umoci), imported with ctr as the runbook does. The
      // host's `hami node` stops; a pod with its arguments takes over. /tmp is a hostPath: the plugin
      // dir, the kubeconfig, HAMi-core's files and the mock GPUs are all there.
      const images = await mkdtemp(join(tmpdir(), "hami-image-"));
      const host = cluster?.agents.get(NODE);
      try {
        await execFileAsync("bash", [HAMI_IMAGE, images], { maxBuffer: 16 * 1024 * 1024 });
        await cluster?.realNode?.importImage(join(images, "hami.tar"));
        const image = (await readFile(join(images, "hami.ref"), "utf8")).trim();
        await host?.stop();
        await core.createNamespacedPod({
          namespace: "kube-system",
          body: {
            metadata: { name: "hami-node-agent" },
            spec: {
              nodeName: NODE,
              hostNetwork: true,
              automountServiceAccountToken: false,
              terminationGracePeriodSeconds: 10,
              containers: [
                {
                  name: "agent",
                  image,
                  imagePullPolicy: "Never",
                  args: [...(host?.args ?? [])],
                  env: [{ name: "LOG_LEVEL", value: "info" }],
                  volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
                },
              ],
              volumes: [{ name: "tmp", hostPath: { path: "/tmp", type: "Directory" } }],
            },
          },
        });
        await waitFor(
          "the agent pod registered with the kubelet",
          async () => {
            const agentLog = await kubectl(cluster!, [
              "logs",
              "-n",
              "kube-system",
              "hami-node-agent",
            ]).catch(() => "");
            return agentLog.includes("registered with the kubelet") ? true : undefined;
          },
          90_000,
        );
        await run("from-image", [
          container("main", { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "1234" }),
        ]);
        assert.equal((await logs("from-image", "main")).CUDA_DEVICE_MEMORY_LIMIT_0, "1234m");
        const agentLog = await kubectl(cluster!, ["logs", "-n", "kube-system", "hami-node-agent"]);
        assert.match(agentLog, /"pod":"default\/from-image"[^\n]*"reason":"verified"/);
      } finally {
        await core
          .deleteNamespacedPod({ namespace: "kube-system", name: "hami-node-agent" })
          .catch(() => undefined);
        await waitFor(
          "the agent pod gone",
          async () =>
            (await core.listNamespacedPod({ namespace: "kube-system" })).items.length === 0
              ? true
              : undefined,
          60_000,
        );
        await host?.start();
        await rm(images, { recursive: true, force: true });
      }
    },
  );

  it("teardown, with a GPU pod still running, leaves nothing behind: links, cgroups, mounts, processes, firewall, host paths, sysctls", async () => {
    const sleeper = container("main", { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "100" });
    sleeper.command = ["sleep", "3600"];
    await core.createNamespacedPod({
      namespace: "default",
      body: { metadata: { name: "still-running" }, spec: { containers: [sleeper] } },
    });
    await waitFor(
      "still-running Running",
      async () =>
        (await core.readNamespacedPod({ namespace: "default", name: "still-running" })).status
          ?.phase === "Running"
          ? true
          : undefined,
      60_000,
    ).catch(async (error: unknown) => {
      throw new Error(`${String(error)}\n${await diagnose("still-running")}`);
    });
    const started = Date.now();
    await cluster?.stop();
    cluster = undefined;
    const after_ = hostState();
    assert.deepEqual(after_, before_, `teardown took ${Date.now() - started} ms`);
  });
});
