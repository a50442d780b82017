// HAMi's per-node config.json (nodeconfig), and the GPU topology scores, in `hami node` (the real CLI process) against a real
// kube-apiserver, the kubelet SIMULATED and the GPUs from a mock file: this node's entry overrides
// the split count and scaling and filters a GPU; what won is published on the Node and shown by
// `hami status`; a change to the file is followed; a bad file stops the start with one clear line.

import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { Annotation, decodeNodeDevices } from "../../src/core/index.js";
import { runHami, spawnHami } from "../helpers/cli.js";
import {
  controlPlaneMissing,
  startControlPlane,
  type ControlPlane,
} from "../helpers/control-plane.js";
import { waitFor } from "../helpers/net.js";
import { installSimulatedHamiCore, SimulatedKubelet } from "../helpers/simulated-kubelet.js";

const NODE = "config-node";
const missing = controlPlaneMissing();

describe("hami node --node-config: HAMi's per-node settings", { skip: missing }, () => {
  let plane: ControlPlane;
  let kubelet: SimulatedKubelet;
  let core: CoreV1Api;
  let dir = "";
  let agent: ReturnType<typeof spawnHami> | undefined;
  const nodeConfig = () => join(dir, "config.json");

  const registered = async () => {
    const node = await core.readNode({ name: NODE });
    const raw = node.metadata?.annotations?.[Annotation.nodeRegister];
    return raw === undefined ? [] : decodeNodeDevices(raw);
  };

  before(async () => {
    plane = await startControlPlane();
    const kc = new KubeConfig();
    kc.loadFromFile(plane.kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
    dir = await mkdtemp(join(tmpdir(), "hami-node-config-"));
    await installSimulatedHamiCore(join(dir, "hook"));
    await writeFile(
      join(dir, "gpus.yaml"),
      stringify({
        devices: ["GPU-aaaa", "GPU-bbbb", "GPU-cccc"].map((uuid) => ({
          uuid,
          type: "Tesla T4",
          memoryMiB: 10_000,
        })),
        // As `nvidia-smi topo -m` prints it: GPU0 and GPU2 share two NVLinks.
        topology:
          "\tGPU0\tGPU1\tGPU2\tCPU Affinity\nGPU0\t X \tPIX\tNV2\t0-7\nGPU1\tPIX\t X \tSYS\t0-7\nGPU2\tNV2\tSYS\t X \t0-7\n",
      }),
    );
    await writeFile(
      join(dir, "config.yaml"),
      stringify({ nvidia: { deviceSplitCount: 10, hookPath: join(dir, "hook") } }),
    );
    await writeFile(
      nodeConfig(),
      JSON.stringify({
        nodeconfig: [
          { name: "another-node", devicesplitcount: 7 },
          {
            name: NODE,
            operatingmode: "hami-core",
            devicesplitcount: 3,
            devicememoryscaling: 1.5,
            filterdevices: { uuid: ["GPU-bbbb"], index: [] },
            colour: "red",
          },
        ],
      }),
    );
    kubelet = await SimulatedKubelet.start({ kubeconfig: plane.kubeconfig, nodeName: NODE });
    agent = spawnHami([
      "node",
      `--node-name=${NODE}`,
      `--devices=file:${join(dir, "gpus.yaml")}`,
      `--device-plugin-dir=${kubelet.pluginDir}`,
      `--kubeconfig=${plane.kubeconfig}`,
      `--config=${join(dir, "config.yaml")}`,
      `--node-config=${nodeConfig()}`,
      "--lease-namespace=kube-system",
      `--vgpu-lock-dir=${join(dir, "vgpulock")}`,
      "--monitor-period=0",
    ]);
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

  it("this node's entry wins: split 3, memory x1.5, GPU-bbbb not registered; the kubelet offers 2 x 3", async () => {
    const devices = await waitFor(
      "the register annotation",
      async () => {
        if (agent?.child.exitCode !== null) throw new Error(agent?.output().stderr);
        const found = await registered();
        return found.length > 0 ? found : undefined;
      },
      60_000,
    );
    assert.deepEqual(
      devices.map((d) => [d.uuid, d.splitCount, d.memoryMiB]),
      [
        ["GPU-aaaa", 3, 15_000],
        ["GPU-cccc", 3, 15_000],
      ],
    );
    await waitFor("allocatable 6", async () =>
      (await core.readNode({ name: NODE })).status?.allocatable?.["nvidia.com/gpu"] === "6"
        ? true
        : undefined,
    );
    // HAMi's pair scores for the GPUs it registers (GPU-bbbb is filtered out of them too).
    const node = await core.readNode({ name: NODE });
    assert.deepEqual(JSON.parse(node.metadata?.annotations?.[Annotation.nodeScores] ?? "null"), [
      { uuid: "GPU-aaaa", score: { "GPU-cccc": 200 } },
      { uuid: "GPU-cccc", score: { "GPU-aaaa": 200 } },
    ]);
    const notes = (agent?.output().stdout ?? "").split("\n").filter((l) => l.includes("colour"));
    assert.equal(notes.length, 1, "the unknown key is said once");
    assert.match(notes[0] ?? "", /nodeconfig colour is not a HAMi node setting; ignored/);
  });

  it("hami status shows which value won and where it came from", async () => {
    const status = await runHami(["status", "--kubeconfig", plane.kubeconfig]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(
      status.stdout,
      /config-node\n {2}settings: split 3 \(nodeconfig\), memory x1\.5 \(nodeconfig\), cores x1 \(config\), mode hami-core \(nodeconfig\), not registered: GPU-bbbb \(nodeconfig\); nodeconfig colour is not a HAMi node setting; ignored\n/,
    );
  });

  it("a change to the file is followed: split 2, nothing filtered", async () => {
    await writeFile(
      nodeConfig(),
      JSON.stringify({ nodeconfig: [{ name: NODE, devicesplitcount: 2 }] }),
    );
    const devices = await waitFor(
      "three GPUs with split 2",
      async () => {
        const found = await registered();
        return found.length === 3 && found.every((d) => d.splitCount === 2) ? found : undefined;
      },
      30_000,
    );
    assert.deepEqual(
      devices.map((d) => d.memoryMiB),
      [10_000, 10_000, 10_000],
    );
  });

  it("a bad file stops the start with one line naming the entry and field", async () => {
    const bad = join(dir, "bad.json");
    await writeFile(bad, JSON.stringify({ nodeconfig: [{ name: NODE, devicesplitcount: -1 }] }));
    const run = await runHami([
      "node",
      `--node-name=${NODE}`,
      `--devices=file:${join(dir, "gpus.yaml")}`,
      `--kubeconfig=${plane.kubeconfig}`,
      `--node-config=${bad}`,
    ]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr.trim(), /^hami node: .*bad\.json: nodeconfig\.0\.devicesplitcount: /);
    assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
  });
});
