// The node monitor of `hami node` (the real CLI process) against a real kube-apiserver: HAMi-core
// shared regions written by this test in the published layout (SIMULATED: no GPU and no HAMi-core
// here; the regions are what libvgpu.so would write), host figures from the mock device file, the
// kubelet SIMULATED. Checks HAMi's metric names on --monitor-port, that they follow the files,
// that hostile files (garbage, a symlink, a FIFO) are skipped, and the drift Event on the Node.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CoreV1Api, KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { encodeSharedRegion } from "../../src/core/index.js";
import { spawnHami } from "../helpers/cli.js";
import {
  controlPlaneMissing,
  startControlPlane,
  type ControlPlane,
} from "../helpers/control-plane.js";
import { freePort, waitFor } from "../helpers/net.js";
import { installSimulatedHamiCore, SimulatedKubelet } from "../helpers/simulated-kubelet.js";

const NODE = "monitor-node";
const MiB = 1024 * 1024;
const missing = controlPlaneMissing();

function gpuFile(usedMiB: number): string {
  return stringify({
    devices: [
      {
        uuid: "GPU-aaaa",
        type: "A100-SXM4-40GB",
        memoryMiB: 40_000,
        usage: { utilization: 37, memoryUsedMiB: usedMiB, temperatureC: 61, powerW: 212.5 },
      },
      { uuid: "GPU-bbbb", type: "Tesla T4", memoryMiB: 15_360 },
    ],
  });
}

describe(
  "hami node --monitor-port: HAMi-core regions and host figures as HAMi's metrics",
  { skip: missing },
  () => {
    let plane: ControlPlane;
    let kubelet: SimulatedKubelet;
    let core: CoreV1Api;
    let dir = "";
    let metricsURL = "";
    let agent: ReturnType<typeof spawnHami> | undefined;

    const containers = () => join(dir, "hook", "vgpu", "containers");
    const metrics = async () => (await fetch(metricsURL)).text();
    const until = (what: string, test: (text: string) => boolean) =>
      waitFor(what, async () => (test(await metrics()) ? true : undefined), 20_000);

    async function writeRegion(uid: string, container: string, usedMiB: number, sm: number) {
      const at = join(containers(), `${uid}_${container}`);
      await mkdir(at, { recursive: true });
      const bytes = encodeSharedRegion({
        devices: [{ uuid: "GPU-aaaa", limitBytes: 3000 * MiB, smLimit: 30 }],
        processes: [
          {
            hostPid: 4242,
            devices: [
              {
                usedBytes: usedMiB * MiB,
                contextBytes: 300 * MiB,
                bufferBytes: 600 * MiB,
                smUtil: sm,
              },
            ],
          },
        ],
        lastKernelTime: Math.floor(Date.now() / 1000) - 5,
      });
      await writeFile(join(at, "0f1e2d3c.cache.tmp"), bytes);
      await rm(join(at, "0f1e2d3c.cache"), { force: true });
      execFileSync("mv", [join(at, "0f1e2d3c.cache.tmp"), join(at, "0f1e2d3c.cache")]);
    }

    async function createPod(name: string, names = ["c0"]): Promise<V1Pod> {
      return core.createNamespacedPod({
        namespace: "default",
        body: {
          metadata: { name, namespace: "default" },
          spec: { nodeName: NODE, containers: names.map((c) => ({ name: c, image: "cuda" })) },
        },
      });
    }

    before(async () => {
      plane = await startControlPlane();
      const kc = new KubeConfig();
      kc.loadFromFile(plane.kubeconfig);
      core = kc.makeApiClient(CoreV1Api);
      dir = await mkdtemp(join(tmpdir(), "hami-monitor-"));
      await installSimulatedHamiCore(join(dir, "hook"));
      await writeFile(join(dir, "gpus.yaml"), gpuFile(2000));
      await writeFile(
        join(dir, "config.yaml"),
        stringify({ nvidia: { deviceSplitCount: 4, hookPath: join(dir, "hook") } }),
      );
      kubelet = await SimulatedKubelet.start({ kubeconfig: plane.kubeconfig, nodeName: NODE });
      const port = await freePort();
      metricsURL = `http://127.0.0.1:${port}/metrics`;
      agent = spawnHami([
        "node",
        `--node-name=${NODE}`,
        `--devices=file:${join(dir, "gpus.yaml")}`,
        `--device-plugin-dir=${kubelet.pluginDir}`,
        `--kubeconfig=${plane.kubeconfig}`,
        `--config=${join(dir, "config.yaml")}`,
        "--lease-namespace=kube-system",
        `--vgpu-lock-dir=${join(dir, "vgpulock")}`,
        `--monitor-port=${port}`,
        "--monitor-period=1",
        "--untracked-threshold-mib=512",
        "--untracked-hold=2",
      ]);
      await waitFor(
        "the monitor serving",
        async () => {
          if (agent?.child.exitCode !== null) throw new Error(agent?.output().stderr);
          return (await fetch(metricsURL).catch(() => undefined))?.ok === true ? true : undefined;
        },
        60_000,
      );
    });

    after(async () => {
      if (agent !== undefined && agent.child.exitCode === null) {
        agent.child.kill("SIGTERM");
        await agent.exited;
      }
      await kubelet?.stop();
      await plane?.stop();
      if (dir !== "") await rm(dir, { recursive: true, force: true });
    });

    it("per container: HAMi's names and labels, following the region file as it changes", async () => {
      const pod = await createPod("infer");
      const uid = pod.metadata?.uid ?? "";
      await writeRegion(uid, "c0", 1000, 20);
      const labels =
        '{namespace="default",pod="infer",container="c0",vdevice_index="0",device_uuid="GPU-aaaa",zone="vGPU"}';
      await until("used 1000 MiB", (t) =>
        t.includes(`hami_vgpu_memory_used_bytes${labels} ${1000 * MiB}`),
      );
      const text = await metrics();
      for (const line of [
        `hami_vgpu_memory_limit_bytes${labels} ${3000 * MiB}`,
        `hami_container_device_memory_bytes${labels} ${1000 * MiB}`,
        `hami_container_device_utilization_ratio${labels} 20`,
        `hami_vgpu_memory_context_bytes${labels} ${300 * MiB}`,
        `hami_vgpu_memory_module_bytes${labels} 0`,
        `hami_vgpu_memory_buffer_bytes${labels} ${600 * MiB}`,
      ])
        assert.ok(text.includes(line), `${line} in\n${text}`);
      const age = text
        .split("\n")
        .find((l) => l.startsWith(`hami_container_last_kernel_elapsed_seconds${labels} `));
      assert.ok(Number(age?.split(" ")[1]) >= 5, `last kernel age in ${age}`);
      await writeRegion(uid, "c0", 2500, 55);
      await until(
        "used 2500 MiB, SM 55",
        (t) =>
          t.includes(`hami_vgpu_memory_used_bytes${labels} ${2500 * MiB}`) &&
          t.includes(`hami_container_device_utilization_ratio${labels} 55`),
      );
    });

    it("per GPU: the host figures HAMi names, and ours (temperature, power, tracked, untracked)", async () => {
      const host =
        '{node="monitor-node",device_index="0",device_uuid="GPU-aaaa",device_type="NVIDIA-A100-SXM4-40GB",zone="vGPU"}';
      await until("host figures", (t) =>
        t.includes(`hami_vgpu_memory_tracked_bytes${host} ${2500 * MiB}`),
      );
      const text = await metrics();
      for (const line of [
        `hami_host_gpu_memory_used_bytes${host} ${2000 * MiB}`,
        `hami_host_gpu_utilization_ratio${host} 37`,
        `hami_host_gpu_temperature_celsius${host} 61`,
        `hami_host_gpu_power_watts${host} 212.5`,
        `hami_host_gpu_memory_total_bytes${host} ${40_000 * MiB}`,
        `hami_vgpu_memory_untracked_bytes${host} 0`,
      ])
        assert.ok(text.includes(line), `${line} in\n${text}`);
      // GPU-bbbb reports no usage in the mock file: no used or untracked series for it, total only.
      assert.doesNotMatch(text, /hami_host_gpu_memory_used_bytes\{[^}]*GPU-bbbb/);
      assert.match(text, /hami_host_gpu_memory_total_bytes\{[^}]*GPU-bbbb[^}]*\} 16106127360/);
    });

    it("garbage, a symlink to a host file and a FIFO are skipped with one warning each; the rest still reads", async () => {
      const other = await createPod("hostile", ["garbage", "link", "fifo"]);
      const uid = other.metadata?.uid ?? "";
      for (const c of ["garbage", "link", "fifo"]) await mkdir(join(containers(), `${uid}_${c}`));
      await writeFile(join(containers(), `${uid}_garbage`, "x.cache"), Buffer.alloc(3_000_000, 7));
      await symlink("/etc/passwd", join(containers(), `${uid}_link`, "x.cache"));
      execFileSync("mkfifo", [join(containers(), `${uid}_fifo`, "x.cache")]);
      await mkdir(join(containers(), "not-a-pod-dir"));
      const pod = await createPod("second");
      await writeRegion(pod.metadata?.uid ?? "", "c0", 100, 1);
      await until("the second pod read after the hostile files", (t) =>
        t.includes('hami_vgpu_memory_used_bytes{namespace="default",pod="second"'),
      );
      await new Promise((r) => setTimeout(r, 2_500)); // two more samples: the warnings are not repeated
      const warnings = (agent?.output().stdout ?? "")
        .split("\n")
        .filter((l) => l.includes("skipping a shared region"))
        .map((l) => JSON.parse(l) as { file: string; reason: string });
      const byFile = (c: string) => warnings.filter((w) => w.file.endsWith(`${uid}_${c}`));
      assert.equal(byFile("garbage").length, 1);
      assert.match(byFile("garbage")[0]?.reason ?? "", /not a HAMi-core shared region/);
      assert.equal(byFile("link").length, 1);
      assert.match(byFile("link")[0]?.reason ?? "", /ELOOP|symbolic link/);
      assert.equal(byFile("fifo").length, 1);
      assert.match(byFile("fifo")[0]?.reason ?? "", /not a regular file/);
      assert.doesNotMatch(await metrics(), /pod="hostile"/);
    });

    it("memory the regions do not account for: the untracked gauge, then a Warning Event on the Node", async () => {
      await writeFile(join(dir, "gpus.yaml"), gpuFile(2600 + 3000));
      await until("untracked 3000 MiB", (t) =>
        /hami_vgpu_memory_untracked_bytes\{[^}]*GPU-aaaa[^}]*\} 3145728000/.test(t),
      );
      const event = await waitFor(
        "a GPUMemoryUntracked Event on the Node",
        async () =>
          (
            await core.listNamespacedEvent({
              namespace: "default",
              fieldSelector: `involvedObject.kind=Node,involvedObject.name=${NODE},reason=GPUMemoryUntracked`,
            })
          ).items[0],
        20_000,
      );
      assert.equal(event.type, "Warning");
      assert.match(
        event.message ?? "",
        /GPU GPU-aaaa: 3000 MiB of device memory in use that no container's HAMi-core region accounts for \(tracked 2600 MiB\)/,
      );
      await writeFile(join(dir, "gpus.yaml"), gpuFile(2600));
      await waitFor(
        "GPUMemoryTracked once it is back",
        async () =>
          (
            await core.listNamespacedEvent({
              namespace: "default",
              fieldSelector: `involvedObject.name=${NODE},reason=GPUMemoryTracked`,
            })
          ).items[0],
        20_000,
      );
    });

    it("a deleted pod's region is no longer reported; it counts as an orphan", async () => {
      await core.deleteNamespacedPod({
        namespace: "default",
        name: "second",
        gracePeriodSeconds: 0,
      });
      await until("second gone", (t) => !t.includes('pod="second"'));
      assert.match(await metrics(), /hami_monitor_orphan_regions [1-9]/);
    });
  },
);
