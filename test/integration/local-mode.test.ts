// `hami local` (npm start) end to end: the whole system on this machine with simulated GPU nodes
// (no real kubelet, no GPUs; each container's HAMi-core shared region is SIMULATED, written as
// libvgpu.so would). Waits for the examples to be placed, checks the printed table, the node
// monitors' metrics, a region rewritten by the test reaching the metrics and /ui/state, a pending
// pod's reason, the MIG node (SIMULATED H100 in MIG mode) and a GPU cordoned with `hami cordon`,
// the /ui page in headless Chromium (playwright-core; a screenshot is saved under .artifacts/),
// then Ctrl-C: everything stops and the temp state is removed.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, readdir, rename, writeFile } from "node:fs/promises";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { encodeSharedRegion } from "../../src/core/index.js";
import { after, before, describe, it } from "node:test";
import { controlPlaneMissing } from "../helpers/control-plane.js";
import { runHami, spawnHami } from "../helpers/cli.js";
import { waitFor } from "../helpers/net.js";

const missing = controlPlaneMissing();
const chromium = spawnSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).stdout.trim();

async function getJson(url: string): Promise<unknown> {
  return (await fetch(url)).json();
}

interface UiState {
  nodes: {
    name: string;
    devices: {
      uuid: string;
      mode: string;
      mig?: { profile: string; free: number; total: number }[];
      pods: { name: string; usedMiB?: number; limitMiB?: number; mig?: string[] }[];
    }[];
  }[];
  pending: { namespace: string; name: string; reason: string }[];
  summary: { gpusReporting: number; usedMiB: number; fragmentedGpus: number };
}

const MiB = 1024 * 1024;
const ARTIFACTS = resolve(import.meta.dirname, "../../.artifacts");

describe("hami local (npm start)", { skip: missing }, () => {
  let run: ReturnType<typeof spawnHami>;
  let ui = "";

  before(async () => {
    run = spawnHami(["local"], { LOG_LEVEL: "warn" });
    await waitFor(
      "local mode running",
      () => {
        const out = run.output();
        if (out.code !== null)
          throw new Error(`hami local exited ${out.code}: ${out.stdout}${out.stderr}`);
        return out.stdout.includes("running; Ctrl-C stops everything") ? true : undefined;
      },
      300_000,
    );
    ui = /GPU view: (http:\/\/\S+)/.exec(run.output().stdout)?.[1] ?? "";
  });

  after(async () => {
    if (run.child.exitCode === null) {
      run.child.kill("SIGKILL");
      await run.exited;
    }
  });

  it("prints every example placed, with its devices and the env Allocate gave it", () => {
    const out = run.output().stdout;
    const block = (name: string) =>
      new RegExp(
        `^${name}  node=(\\S+)  phase=Running  bind-phase=success\\n    devices: (.*)\\n    env:     (.*)$`,
        "m",
      ).exec(out);
    const expect: [string, RegExp, RegExp][] = [
      ["default-use", /cuda: GPU-\S+ (81920|15360|32768)MiB 100%/, /CUDA_DEVICE_SM_LIMIT=100/],
      ["memory-mib", /3000MiB/, /CUDA_DEVICE_MEMORY_LIMIT_0=3000m/],
      ["cores", /2000MiB 30%/, /CUDA_DEVICE_SM_LIMIT=30/],
      ["type-include", /GPU-a100-\d 10000MiB/, /NVIDIA_VISIBLE_DEVICES=GPU-a100-\d/],
      ["type-exclude", /GPU-t4-\d/, /NVIDIA_VISIBLE_DEVICES=GPU-t4-\d/],
      ["uuid-include", /GPU-v100-3 1000MiB/, /NVIDIA_VISIBLE_DEVICES=GPU-v100-3/],
      ["uuid-exclude", /GPU-t4-[23] 1000MiB/, /NVIDIA_VISIBLE_DEVICES=GPU-t4-[23]/],
      ["multi-gpu", /4000MiB 0%, GPU-\S+ 4000MiB/, /CUDA_DEVICE_MEMORY_LIMIT_1=4000m/],
      ["topology-aware", /GPU-\S+ 2000MiB 0%, GPU-\S+ 2000MiB/, /CUDA_DEVICE_MEMORY_LIMIT_1=2000m/],
      [
        "multi-container",
        /cuda-0: .*1000MiB.*; cuda-1: .*1500MiB/,
        /cuda-1: CUDA_DEVICE_MEMORY_LIMIT_0=1500m/,
      ],
      // The smallest MIG instance that holds 8000 MiB, 1g. from the highest start; the instance
      // itself, no HAMi-core limit.
      [
        "mig",
        /^cuda: GPU-h100-0 9984MiB 13% MIG 1g\.10gb at 2:1$/,
        /^cuda: NVIDIA_VISIBLE_DEVICES=MIG-mock-hami-local-mig-0-2$/,
      ],
    ];
    // On the V100 node (NVLinked in groups of four, a SIMULATED topo -m) the pair is one group's.
    const topo = block("topology-aware");
    assert.equal(topo?.[1], "hami-local-v100");
    const group = [...(topo?.[2] ?? "").matchAll(/GPU-v100-(\d)/g)].map(([, i]) =>
      Math.floor(Number(i) / 4),
    );
    assert.equal(group.length, 2, topo?.[2]);
    assert.equal(new Set(group).size, 1, topo?.[2]);
    for (const [name, devices, env] of expect) {
      const found = block(name);
      assert.ok(found, `${name} not reported as placed:\n${out}`);
      assert.match(found[2] ?? "", devices, name);
      assert.match(found[3] ?? "", env, name);
    }
  });

  it("the printed `hami events` command reads the allocations over TLS, as the read-only user", async () => {
    const line =
      /events: +NATS_USER=(\S+) NATS_PASSWORD=(\S+) hami events --follow --nats (\S+) --nats-ca (\S+)/.exec(
        run.output().stdout,
      );
    assert.ok(line, run.output().stdout);
    const [, user, password, url, ca] = line;
    const events = await runHami(
      ["events", "--nats", url!, "--nats-ca", ca!, "--type", "allocation"],
      {
        NATS_USER: user!,
        NATS_PASSWORD: password!,
      },
    );
    assert.equal(events.code, 0, events.stderr);
    assert.match(events.stdout, /allocation .*memory-mib/);
    const plain = await runHami(["events", "--nats", url!], {
      NATS_USER: user!,
      NATS_PASSWORD: password!,
    });
    assert.notEqual(plain.code, 0, "a client without the CA is refused");
  });

  it("/ui/state shows each pod on the GPU it was given", async () => {
    const state = (await getJson(`${ui}/state`)) as UiState;
    const holder = (pod: string) =>
      state.nodes.flatMap((n) =>
        n.devices.filter((d) => d.pods.some((p) => p.name === pod)).map((d) => d.uuid),
      );
    assert.deepEqual(holder("uuid-include"), ["GPU-v100-3"]);
    assert.equal(holder("multi-gpu").length, 2);
    const mig = state.nodes.flatMap((n) => n.devices).find((d) => d.uuid === "GPU-h100-0");
    assert.equal(mig?.mode, "mig");
    assert.deepEqual(mig?.mig, [
      { profile: "1g.10gb", free: 2, total: 3 },
      { profile: "3g.40gb", free: 1, total: 1 },
    ]);
    assert.deepEqual(mig?.pods.find((p) => p.name === "mig")?.mig, ["1g.10gb at 2:1"]);
    const metrics = await (await fetch(ui.replace(/\/ui$/, "/metrics"))).text();
    assert.match(
      metrics,
      /hami_gpu_mode_info\{node="hami-local-mig",device_uuid="GPU-h100-0",[^}]*mode="mig"\} 1/,
    );
    assert.match(
      metrics,
      /hami_gpu_mig_instances\{node="hami-local-mig",device_uuid="GPU-h100-0",profile="1g\.10gb",state="used"\} 1/,
    );
  });

  const monitors = () =>
    [...run.output().stdout.matchAll(/node monitor of (\S+): (\S+)/g)].map(([, node, url]) => ({
      node: node ?? "",
      url: url ?? "",
    }));
  const core = () => {
    const kc = new KubeConfig();
    kc.loadFromFile(/kubeconfig (\S+)/.exec(run.output().stdout)?.[1] ?? "");
    return kc.makeApiClient(CoreV1Api);
  };
  const metricsOf = async (pod: string) => {
    for (const { url } of monitors()) {
      const text = await (await fetch(url)).text();
      if (text.includes(`pod="${pod}"`)) return text;
    }
    return undefined;
  };

  it("every node's monitor serves HAMi's metric names for the examples' containers", async () => {
    assert.equal(monitors().length, 4, run.output().stdout);
    const text = await waitFor("memory-mib's region read", () => metricsOf("memory-mib"), 30_000);
    const labels = 'namespace="default",pod="memory-mib",container="cuda",vdevice_index="0"';
    assert.match(
      text,
      new RegExp(
        `hami_vgpu_memory_limit_bytes\\{${labels},device_uuid="GPU-[^"]+",zone="vGPU"\\} ${3000 * MiB}`,
      ),
    );
    assert.match(text, new RegExp(`hami_vgpu_memory_used_bytes\\{${labels},[^}]*\\} \\d+`));
    assert.match(text, /hami_host_gpu_memory_total_bytes\{node="hami-local-/);
  });

  it("a region that changes reaches the node's metrics and /ui/state; a pod that fits nowhere is pending with why", async () => {
    const api = core();
    const pod = await api.readNamespacedPod({ namespace: "default", name: "memory-mib" });
    const uid = pod.metadata?.uid ?? "";
    const dirs = (await readdir(tmpdir())).filter((d) => d.startsWith("hami-local-"));
    const found = dirs
      .map((d) => join(tmpdir(), d, "hook", "vgpu", "containers", `${uid}_cuda`))
      .filter((d) => existsSync(d));
    assert.equal(found.length, 1, `one cache dir for ${uid}`);
    const dir = found[0] ?? "";
    const [file = ""] = (await readdir(dir)).filter((f) => f.endsWith(".cache"));
    const gpu = pod.metadata?.annotations?.["hami.io/vgpu-devices-allocated"]?.split(",")[0] ?? "";
    const region = encodeSharedRegion({
      devices: [{ uuid: gpu, limitBytes: 3000 * MiB, smLimit: 0 }],
      processes: [{ hostPid: 9, devices: [{ usedBytes: 2900 * MiB, smUtil: 77 }] }],
      lastKernelTime: Math.floor(Date.now() / 1000),
    });
    await writeFile(join(dir, `${file}.tmp`), region);
    await rename(join(dir, `${file}.tmp`), join(dir, file));
    await waitFor(
      "the monitor following the region",
      async () =>
        (await metricsOf("memory-mib"))?.includes(`} ${2900 * MiB}`) === true ? true : undefined,
      30_000,
    );
    await api.createNamespacedPod({
      namespace: "default",
      body: {
        metadata: { name: "too-big", namespace: "default" },
        spec: {
          containers: [
            {
              name: "cuda",
              image: "cuda",
              resources: { limits: { "nvidia.com/gpu": "1", "nvidia.com/gpumem": "900000" } },
            },
          ],
        },
      },
    });
    const state = await waitFor(
      "/ui/state with the used figure and the pending pod",
      async () => {
        const s = (await getJson(`${ui}/state`)) as UiState;
        const used = s.nodes
          .flatMap((n) => n.devices.flatMap((d) => d.pods))
          .find((p) => p.name === "memory-mib")?.usedMiB;
        return used === 2900 && s.pending.some((p) => p.name === "too-big") ? s : undefined;
      },
      30_000,
    );
    assert.match(
      state.pending.find((p) => p.name === "too-big")?.reason ?? "",
      /^0\/4 nodes fit \(4: /,
    );
    assert.ok(state.summary.gpusReporting >= 14, JSON.stringify(state.summary));
    assert.ok(state.summary.usedMiB > 2900, JSON.stringify(state.summary));
  });

  it("a cordoned GPU takes no new pod (explain: CardCordoned); the printed `hami status` shows used next to booked, CORDONED and MIG instances", async () => {
    const line =
      /status: +NATS_USER=(\S+) NATS_PASSWORD=(\S+) hami status --kubeconfig (\S+) --nats (\S+) --nats-ca (\S+)/.exec(
        run.output().stdout,
      );
    assert.ok(line, run.output().stdout);
    const [, user = "", password = "", kubeconfig = "", url = "", ca = ""] = line;
    // A cordoned GPU keeps nothing new: a pod asking for it by UUID waits, saying why.
    const cordon = await runHami([
      "cordon",
      "hami-local-v100/GPU-v100-7",
      "--kubeconfig",
      kubeconfig,
    ]);
    assert.equal(cordon.code, 0, cordon.stderr);
    await core().createNamespacedPod({
      namespace: "default",
      body: {
        metadata: {
          name: "on-cordoned",
          namespace: "default",
          annotations: { "nvidia.com/use-gpuuuid": "GPU-v100-7" },
        },
        spec: {
          containers: [
            { name: "cuda", image: "cuda", resources: { limits: { "nvidia.com/gpu": "1" } } },
          ],
        },
      },
    });
    const explained = await waitFor("on-cordoned explained", async () => {
      const r = await fetch(ui.replace(/\/ui$/, "/explain/default/on-cordoned"));
      return r.ok
        ? ((await r.json()) as { verdicts: { node: string; message?: string }[] })
        : undefined;
    });
    assert.match(
      explained.verdicts.find((v) => v.node === "hami-local-v100")?.message ?? "",
      /0 of 8 fit \(7 CardUuidMismatch, 1 CardCordoned\)/,
    );
    const status = await runHami(
      ["status", "--kubeconfig", kubeconfig, "--nats", url, "--nats-ca", ca],
      { NATS_USER: user, NATS_PASSWORD: password },
    );
    assert.equal(status.code, 0, status.stderr);
    assert.match(
      status.stdout,
      /GPU-\S+ +NVIDIA.* mem +\d+\/\d+ +MiB .* used +\d+ MiB .*default\/memory-mib \(2900\/3000 MiB\)/,
    );
    assert.match(status.stdout, /GPU-v100-7 .* CORDONED/);
    assert.match(
      status.stdout,
      /GPU-h100-0 .* MIG 1g\.10gb 2\/3 free, 3g\.40gb 1\/1 free.*default\/mig \[MIG 1g\.10gb at 2:1\]/,
    );
  });

  it(
    "the /ui page draws the placed pod on the right GPU card (headless Chromium)",
    { skip: chromium === "" ? "chromium not installed (.ci/run installs it)" : false },
    async () => {
      const { chromium: browserType } = await import("playwright-core");
      const browser = await browserType.launch({
        executablePath: chromium,
        args: ["--no-sandbox"],
      });
      try {
        const page = await browser.newPage({ ignoreHTTPSErrors: true });
        await page.goto(ui);
        const item = page.locator('[data-gpu="GPU-v100-3"] [data-pod="default/uuid-include"]');
        await item.waitFor({ timeout: 15_000 });
        assert.match(await item.innerText(), /default\/uuid-include 1000 MiB, 0%/);
        const used = page.locator('[data-use="default/memory-mib"]');
        await used.waitFor({ timeout: 15_000 });
        assert.match(await used.innerText(), /used 2900 \/ 3000 MiB, SM 77%/);
        const pending = page.locator('[data-pending="default/too-big"]');
        assert.match(await pending.innerText(), /default\/too-big: 0\/4 nodes fit/);
        assert.match(
          await page.locator("#summary").innerText(),
          /\d+ GPUs .* booked memory \d+% .* used memory \d+% \(containers, \d+ GPUs reporting\) .* fragmented GPUs \d+/,
        );
        const shot = await page.screenshot({ fullPage: true });
        assert.ok(shot.length > 10_000, "a real screenshot");
        await mkdir(ARTIFACTS, { recursive: true });
        await writeFile(join(ARTIFACTS, "local-ui.png"), shot);
      } finally {
        await browser.close();
      }
    },
  );

  it("Ctrl-C stops everything and removes the temp state, even after nats-server died from a signal", async () => {
    const dir = /removing (\S+)/.exec(run.output().stdout)?.[1];
    assert.equal(dir, undefined);
    const children = spawnSync("ps", ["-o", "pid=,comm=", "--ppid", String(run.child.pid)], {
      encoding: "utf8",
    })
      .stdout.trim()
      .split("\n")
      .map((line) => line.trim().split(/\s+/))
      .map(([pid, comm]) => ({ pid: Number(pid), comm: comm ?? "" }));
    const nats = children.find((c) => c.comm === "nats-server");
    assert.ok(nats, `nats-server among ${JSON.stringify(children)}`);
    process.kill(nats.pid, "SIGKILL");
    run.child.kill("SIGINT");
    const result = await run.exited;
    assert.equal(result.code, 0, result.stderr);
    const removed = /SIGINT: stopping everything and removing (\S+)/.exec(result.stdout)?.[1] ?? "";
    assert.ok(removed.startsWith("/"), result.stdout);
    assert.equal(existsSync(removed), false);
    const kubeconfig = /kubeconfig (\S+)/.exec(result.stdout)?.[1] ?? "";
    assert.equal(existsSync(kubeconfig), false, "the control plane's temp dir is gone too");
    // tsx's own esbuild service (the dev runner, not a child hami starts) exits on its own.
    const ours = children.filter((c) => c.comm !== "esbuild");
    const running = (c: { pid: number }): boolean => {
      try {
        process.kill(c.pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    assert.deepEqual(ours.filter(running), [], "no child left running");
  });
});
