// GPU topology, HAMi's way: each node publishes, per GPU, a score for every other GPU (the node
// annotation hami.io/node-nvidia-score, JSON [{"uuid": A, "score": {B: n, ...}}, ...]); the
// topology-aware GPU policy then gives a multi-GPU container the set with the highest summed pair
// score, and a one-GPU container the GPU worst connected to the others, keeping well-connected
// sets free. Scores per link as HAMi counts them (Project-HAMi/HAMi pkg/device/nvidia/
// calculate_score.go calculateGPUPairScore, device.go computeBestCombination and
// computeWorstSingleCard): PCIe path across CPUs 10, within one NUMA node 20, through a host
// bridge 30, several PCIe switches 40, one switch 50, same board 60; each NVLink 100.

import { z } from "zod";

export type PairScores = ReadonlyMap<string, ReadonlyMap<string, number>>;

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

function pairScore(scores: PairScores, a: string, b: string): number {
  return scores.get(a)?.get(b) ?? 0;
}

/** Sets larger than this are chosen greedily (best pair, then the best next device). */
const MAX_COMBINATIONS = 20_000;

function combinations(n: number, k: number): number {
  let c = 1;
  for (let i = 0; i < k; i++) c = (c * (n - i)) / (i + 1);
  return c;
}

function total(set: readonly string[], scores: PairScores): number {
  let sum = 0;
  for (let i = 0; i < set.length; i++)
    for (let j = i + 1; j < set.length; j++) sum += pairScore(scores, set[i] ?? "", set[j] ?? "");
  return sum;
}

/** Every k-subset of positions, in lexicographic order, best total first wins (ties: first). */
function bestSet(uuids: readonly string[], count: number, scores: PairScores): number[] {
  let best: number[] = [];
  let bestScore = -1;
  const walk = (start: number, chosen: number[]): void => {
    if (chosen.length === count) {
      const score = total(
        chosen.map((i) => uuids[i] ?? ""),
        scores,
      );
      if (score > bestScore) [best, bestScore] = [[...chosen], score];
      return;
    }
    for (let i = start; i <= uuids.length - (count - chosen.length); i++)
      walk(i + 1, [...chosen, i]);
  };
  walk(0, []);
  return best;
}

/** Greedy: start from the first device, add the one best connected to those chosen. */
function greedySet(uuids: readonly string[], count: number, scores: PairScores): number[] {
  const chosen = [0];
  while (chosen.length < count) {
    let next = -1;
    let nextScore = -1;
    for (let i = 0; i < uuids.length; i++) {
      if (chosen.includes(i)) continue;
      const score = chosen.reduce(
        (sum, c) => sum + pairScore(scores, uuids[c] ?? "", uuids[i] ?? ""),
        0,
      );
      if (score > nextScore) [next, nextScore] = [i, score];
    }
    chosen.push(next);
  }
  return chosen;
}

/** Which of the fitting devices (their uuids, in position order) a container of `count` GPUs gets
 * under topology-aware: indexes into `uuids`. */
export function topologyChoice(
  uuids: readonly string[],
  count: number,
  scores: PairScores,
): number[] {
  if (count >= uuids.length) return uuids.map((_, i) => i);
  if (count === 1) {
    let worst = 0;
    let worstScore = Number.POSITIVE_INFINITY;
    uuids.forEach((uuid, i) => {
      const score = uuids.reduce((sum, other) => sum + pairScore(scores, uuid, other), 0);
      if (score < worstScore) [worst, worstScore] = [i, score];
    });
    return [worst];
  }
  return combinations(uuids.length, count) <= MAX_COMBINATIONS
    ? bestSet(uuids, count, scores)
    : greedySet(uuids, count, scores);
}
