// Device topology, HAMi's way: each node publishes, per device, a score for every other device (how
// a vendor scores a link and where it publishes them is the vendor's: nvidia/topology.ts); the
// topology-aware policy then gives a multi-device container the set with the highest summed pair
// score, and a one-device container the device worst connected to the others, keeping
// well-connected sets free (Project-HAMi/HAMi device.go computeBestCombination and
// computeWorstSingleCard).

export type PairScores = ReadonlyMap<string, ReadonlyMap<string, number>>;

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
