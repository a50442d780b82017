// NVIDIA's GPU pair scores (HAMi's node annotation hami.io/node-nvidia-score, JSON
// [{"uuid": A, "score": {B: n, ...}}, ...]), per link as HAMi counts them (Project-HAMi/HAMi
// pkg/device/nvidia/calculate_score.go calculateGPUPairScore): PCIe path across CPUs 10, within one
// NUMA node 20, through a host bridge 30, several PCIe switches 40, one switch 50, same board 60;
// each NVLink 100.

import { z } from "zod";
import type { PairScores } from "../topology.js";

/** `nvidia-smi topo -m` words for a PCIe path, scored as HAMi scores NVML's common ancestor. */
const PCIE_SCORES: Readonly<Record<string, number>> = {
  SYS: 10,
  SOC: 10, // older drivers' name for SYS
  NODE: 20,
  PHB: 30,
  PXB: 40,
  PIX: 50,
};
const NVLINK_SCORE = 100;

/** The score of one `nvidia-smi topo -m` cell ("NV12" = 12 NVLinks = 1200), undefined when it
 * names no link (X, a blank, an unknown word). */
export function linkScore(cell: string): number | undefined {
  const nvlinks = /^NV(\d{1,2})$/.exec(cell);
  if (nvlinks !== null) return Number(nvlinks[1]) * NVLINK_SCORE;
  return PCIE_SCORES[cell];
}

const scoresSchema = z
  .array(
    z.object({
      uuid: z.string().min(1).max(128),
      score: z.record(z.string().max(128), z.number().int().min(0).max(1_000_000)).optional(),
    }),
  )
  .max(1024);

/** hami.io/node-nvidia-score as a lookup; throws naming the problem when it is not HAMi's JSON. */
export function decodePairScores(raw: string): PairScores {
  const parsed = scoresSchema.safeParse(JSON.parse(raw));
  if (!parsed.success)
    throw new Error(`hami.io/node-nvidia-score: ${parsed.error.issues[0]?.message ?? "invalid"}`);
  return new Map(parsed.data.map((d) => [d.uuid, new Map(Object.entries(d.score ?? {}))]));
}

export function encodePairScores(scores: PairScores): string {
  return JSON.stringify(
    [...scores].map(([uuid, score]) => ({ uuid, score: Object.fromEntries(score) })),
  );
}
