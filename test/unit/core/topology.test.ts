// HAMi's topology-aware choice (pkg/device/nvidia/device.go computeBestCombination and
// computeWorstSingleCard) and its link scores (calculate_score.go), on a DGX-like 8-GPU node: two
// islands of four GPUs, NVLinked inside (NV4), PCIe across (SYS).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  decodePairScores,
  encodePairScores,
  fitPod,
  HAMI_CORE_MODE,
  linkScore,
  NO_USAGE,
  podRequest,
  topologyChoice,
  type Device,
  type PairScores,
  nvidia,
} from "../../../src/core/index.js";
import { parseNvidiaSmiTopo } from "../../../src/node/index.js";
import { container, pod, policy } from "../../helpers/pods.js";

const uuids = Array.from({ length: 8 }, (_, i) => `GPU-${i}`);
const island = (i: number): number => (i < 4 ? 0 : 1);

/** `nvidia-smi topo -m` as a DGX-like node prints it (with a NIC and the affinity columns). */
const TOPO = [
  `\t${uuids.map((_, i) => `GPU${i}`).join("\t")}\tNIC0\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID`,
  ...uuids.map(
    (_, i) =>
      `GPU${i}\t${uuids.map((__, j) => (i === j ? " X " : island(i) === island(j) ? "NV4" : "SYS")).join("\t")}\tPXB\t0-31\t${island(i)}\t\tN/A`,
  ),
  `NIC0\t${uuids.map(() => "PXB").join("\t")}\t X `,
  "",
  "Legend:",
  "",
  "  X    = Self",
  "  SYS  = Connection traversing PCIe as well as the SMP interconnect between NUMA nodes (e.g., QPI/UPI)",
  "  NV#  = Connection traversing a bonded set of # NVLinks",
].join("\n");

const gpus = uuids.map((uuid, index) => ({ uuid, index }));

describe("topology - link scores, the node's matrix and HAMi's choice", () => {
  it("scores each nvidia-smi topo cell as HAMi scores the link", () => {
    assert.deepEqual(
      ["SYS", "SOC", "NODE", "PHB", "PXB", "PIX", "NV1", "NV12", "X", "", "NV"].map(linkScore),
      [10, 10, 20, 30, 40, 50, 100, 1200, undefined, undefined, undefined],
    );
  });

  it("reads nvidia-smi topo -m: GPU rows and columns only, NIC and affinity ignored", () => {
    const scores = parseNvidiaSmiTopo(TOPO, gpus);
    assert.ok(scores);
    assert.equal(scores.get("GPU-0")?.get("GPU-3"), 400);
    assert.equal(scores.get("GPU-0")?.get("GPU-4"), 10);
    assert.equal(scores.get("GPU-0")?.has("GPU-0"), false);
    assert.equal(scores.size, 8);
    assert.equal(parseNvidiaSmiTopo("No devices were found", gpus), undefined);
    assert.equal(parseNvidiaSmiTopo(`\u001b[4mGPU0\u001b[0m\nGPU0\t X \n`, gpus), undefined);
    // A cell it does not know scores the pair 0, never a throw.
    const odd = parseNvidiaSmiTopo(TOPO.replace("NV4", "NV??"), gpus);
    assert.equal(odd?.get("GPU-0")?.get("GPU-1"), 0);
  });

  it("round-trips HAMi's annotation JSON, and refuses what is not", () => {
    const scores = parseNvidiaSmiTopo(TOPO, gpus) as PairScores;
    const raw = encodePairScores(scores);
    assert.match(raw, /^\[\{"uuid":"GPU-0","score":\{"GPU-1":400,/);
    assert.deepEqual(decodePairScores(raw), scores);
    assert.throws(() => decodePairScores('{"uuid": 1}'), /hami\.io\/node-nvidia-score/);
  });

  it("a multi-GPU container gets the best-connected set; a single GPU the worst connected", () => {
    const scores = parseNvidiaSmiTopo(TOPO, gpus) as PairScores;
    // Free: 0, 1 (island 0) and 4, 5, 6 (island 1): two GPUs go inside one island.
    const free = ["GPU-0", "GPU-4", "GPU-1", "GPU-5", "GPU-6"];
    assert.deepEqual(
      topologyChoice(free, 2, scores).map((i) => free[i]),
      ["GPU-0", "GPU-1"],
    );
    assert.deepEqual(
      topologyChoice(free, 3, scores).map((i) => free[i]),
      ["GPU-4", "GPU-5", "GPU-6"],
    );
    // One GPU: the one with the least to lose, so island 1's three stay together.
    assert.deepEqual(
      topologyChoice(free, 1, scores).map((i) => free[i]),
      ["GPU-0"],
    );
  });

  it("in fit: topology-aware uses the node's scores; without them it places as binpack", () => {
    const device = (uuid: string, index: number): Device => ({
      uuid,
      index,
      type: "NVIDIA-H100",
      memoryMiB: 80_000,
      cores: 100,
      splitCount: 1,
      numa: island(index),
      mode: HAMI_CORE_MODE,
      healthy: true,
    });
    const devices = uuids.map(device);
    const usage = devices.map((_, i) =>
      i === 1 || i === 7 ? { memoryMiB: 80_000, cores: 100, slots: 1 } : NO_USAGE,
    );
    const request = podRequest(
      pod({ containers: [container("c", { "nvidia.com/gpu": "3" })] }),
      policy(),
    );
    const options = {
      gpuPolicy: { order: "binpack" as const, numa: false, mutex: false, topology: true },
      preferences: {},
      vendor: nvidia,
    };
    const pairScores = parseNvidiaSmiTopo(TOPO, gpus) as PairScores;
    const chosen = (result: ReturnType<typeof fitPod>) =>
      result.fits ? result.devices[0]?.map((d) => d.uuid) : result.message;
    assert.deepEqual(chosen(fitPod({ name: "n", devices, usage, pairScores }, request, options)), [
      "GPU-0",
      "GPU-2",
      "GPU-3",
    ]);
    assert.equal(chosen(fitPod({ name: "n", devices, usage }, request, options))?.length, 3);
  });
});
