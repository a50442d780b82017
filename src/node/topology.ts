// GPU topology from `nvidia-smi topo -m` (or the mock device file's `topology`, the same text): the
// matrix of how each GPU pair is connected, turned into HAMi's per-GPU pair scores
// (core/topology.ts). Parsed defensively: NIC rows and columns, the CPU/NUMA affinity columns and
// the legend are ignored, an unknown cell scores the pair 0, and output that is not a matrix gives
// no scores (the node then publishes none, and topology-aware falls back to binpack there).
// `topo -m` shows NV# for NVLinked pairs without their PCIe path, so such a pair scores # x 100
// where HAMi (from NVML) adds that path's 10..60 on top: the same order among pairs whose NVLink
// counts differ.

import { linkScore, type PairScores } from "../core/index.js";

/** Terminal colour codes, which some nvidia-smi versions print even into a pipe. */
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");

/** Pair scores by uuid for the GPUs in the matrix (GPUi is the GPU with index i), or undefined. */
export function parseNvidiaSmiTopo(
  text: string,
  gpus: readonly { index: number; uuid: string }[],
): PairScores | undefined {
  const lines = text.split(/\r?\n/).map((line) => line.replace(ANSI, "").trim());
  const header = lines.find((line) => /^GPU\d+\b/.test(line));
  if (header === undefined) return undefined;
  const columns = header.split(/\s+/).filter((cell) => /^GPU\d+$/.test(cell));
  const uuidOf = new Map(gpus.map((g) => [`GPU${g.index}`, g.uuid]));
  const scores = new Map<string, Map<string, number>>();
  for (const line of lines) {
    const [label = "", ...cells] = line.split(/\s+/);
    const uuid = uuidOf.get(label);
    if (uuid === undefined || line === header || cells.length < columns.length) continue;
    const row = new Map<string, number>();
    columns.forEach((column, i) => {
      const other = uuidOf.get(column);
      if (other === undefined || other === uuid) return;
      row.set(other, linkScore(cells[i] ?? "") ?? 0);
    });
    scores.set(uuid, row);
  }
  return scores.size < 2 ? undefined : scores;
}
