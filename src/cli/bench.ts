// `hami bench placement`: replays a GPU cluster trace through our placement (core fit + score) under
// each policy and several seeds; prints JSON (or a table) and writes the JSON and an SVG plot.

import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { defaultConfig, mutatePolicy } from "../config/index.js";
import {
  allocationChart,
  parseNodes,
  parseTasks,
  POLICIES,
  SHAPE_FILTERS,
  SHAPES,
  simulate,
  traceShape,
  type SimPolicy,
  type SimResult,
} from "../sim/index.js";
import { UsageError } from "./usage.js";

export const BENCH_USAGE = `usage: hami bench placement --nodes CSV --pods CSV [--policy binpack|spread|hami-default|fgd|all]
                            [--shape default|sharing|whole-gpu] [--seed 42] [--seeds 1]
                            [--inflation 1.3] [--json] [--out DIR]
  replays the trace (openb format) through the scheduler's placement; --shape keeps only some of its
  tasks (sharing: CPU-only and one-GPU-share tasks; whole-gpu: CPU-only and whole-GPU tasks);
  --out writes placement.json and placement.svg`;

interface Stat {
  mean: number;
  min: number;
  max: number;
}

function stat(values: number[]): Stat {
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    mean: round(values.reduce((a, b) => a + b, 0) / Math.max(1, values.length)),
    min: round(Math.min(...values)),
    max: round(Math.max(...values)),
  };
}

function summarise(policy: SimPolicy, runs: SimResult[]) {
  const marks = Object.keys(runs[0]?.allocationAt ?? {});
  return {
    policy,
    seeds: runs.map((r) => r.seed),
    allocationAt: Object.fromEntries(
      marks.map((m) => [m, stat(runs.map((r) => r.allocationAt[m] ?? 0))]),
    ),
    firstFailureAllocation: stat(runs.map((r) => r.firstFailure?.allocationPercent ?? 100)),
    failedTasks: stat(runs.map((r) => r.failedTasks)),
    unallocatedGpus: stat(runs.map((r) => r.unallocatedGpus)),
    fragmentedGpus: stat(runs.map((r) => r.fragmentedGpus)),
    fragmentationPercentOfFree: stat(runs.map((r) => r.fragmentationPercentOfFree)),
    runSeconds: stat(runs.map((r) => r.runMs / 1000)),
  };
}

function meanCurve(runs: SimResult[]): [number, number][] {
  const length = Math.min(...runs.map((r) => r.curve.length));
  return Array.from({ length }, (_, i) => {
    const x = runs[0]?.curve[i]?.[0] ?? i + 1;
    const y = runs.reduce((sum, r) => sum + (r.curve[i]?.[1] ?? 0), 0) / runs.length;
    return [x, Math.round(y * 100) / 100];
  });
}

function table(summaries: ReturnType<typeof summarise>[]): string {
  const head =
    "policy        alloc@50  @70    @90    @100   @110   @130   1st-fail  failed  unalloc  frag(GPUs)";
  const rows = summaries.map((s) => {
    const at = (m: string) => (s.allocationAt[m]?.mean ?? 0).toFixed(2).padStart(6);
    return `${s.policy.padEnd(13)} ${at("50")}  ${at("70")} ${at("90")} ${at("100")} ${at("110")} ${at("130")}  ${s.firstFailureAllocation.mean.toFixed(2).padStart(7)}  ${String(s.failedTasks.mean).padStart(6)}  ${s.unallocatedGpus.mean.toFixed(1).padStart(7)}  ${s.fragmentedGpus.mean.toFixed(1).padStart(9)}`;
  });
  return [head, ...rows].join("\n");
}

function policyList(policy: string): SimPolicy[] {
  if (policy === "all") return [...POLICIES];
  const found = POLICIES.find((p) => p === policy);
  if (found === undefined)
    throw new UsageError(`--policy=${policy}: one of ${POLICIES.join(", ")}, all`);
  return [found];
}

function options(argv: string[]) {
  const [what, ...rest] = argv;
  if (what !== "placement")
    throw new UsageError(`unknown benchmark ${JSON.stringify(what ?? "")}: try placement`);
  const { values } = parseArgs({
    args: rest,
    options: {
      nodes: { type: "string" },
      pods: { type: "string" },
      policy: { type: "string", default: "all" },
      seed: { type: "string", default: "42" },
      seeds: { type: "string", default: "1" },
      inflation: { type: "string", default: "1.3" },
      shape: { type: "string", default: "default" },
      json: { type: "boolean", default: false },
      out: { type: "string" },
    },
    strict: true,
  });
  if (values.nodes === undefined || values.pods === undefined)
    throw new UsageError("--nodes and --pods are required");
  const policies = policyList(values.policy);
  const seed = Number(values.seed);
  const seeds = Number(values.seeds);
  const inflation = Number(values.inflation);
  if (!Number.isInteger(seed) || !Number.isInteger(seeds) || seeds < 1)
    throw new UsageError("--seed and --seeds are integers, --seeds >= 1");
  if (!(inflation > 0 && inflation <= 3))
    throw new UsageError(`--inflation=${values.inflation}: a factor in (0, 3]`);
  const shape = SHAPES.find((s) => s === values.shape);
  if (shape === undefined)
    throw new UsageError(`--shape=${values.shape}: one of ${SHAPES.join(", ")}`);
  return {
    ...values,
    nodes: values.nodes,
    pods: values.pods,
    policies,
    seed,
    seeds,
    inflation,
    shape,
  };
}

export async function runBench(argv: string[]): Promise<void> {
  const opts = options(argv);
  const nodes = parseNodes(await readFile(opts.nodes, "utf8"), opts.nodes);
  const tasks = traceShape(parseTasks(await readFile(opts.pods, "utf8"), opts.pods), opts.shape);
  const requestDefaults = mutatePolicy(defaultConfig());
  const results = opts.policies.map((policy) => {
    const runs = Array.from({ length: opts.seeds }, (_, i) =>
      simulate({
        nodes,
        tasks,
        policy,
        seed: opts.seed + i,
        inflation: opts.inflation,
        requestDefaults,
      }),
    );
    return { summary: summarise(policy, runs), curve: meanCurve(runs) };
  });
  const report = {
    benchmark: "placement",
    trace: {
      nodes: opts.nodes,
      pods: opts.pods,
      nodeCount: nodes.length,
      gpus: results.length > 0 ? nodes.reduce((s, n) => s + n.devices.length, 0) : 0,
      tasks: tasks.length,
      shape: opts.shape,
      shapeFilter: SHAPE_FILTERS[opts.shape],
    },
    method:
      "workload inflation: tasks drawn at random from the trace arrive until their GPU demand reaches inflation x cluster GPUs; tasks never leave",
    inflation: opts.inflation,
    policies: results.map((r) => r.summary),
  };
  if (opts.out !== undefined) {
    await mkdir(opts.out, { recursive: true });
    await writeFile(
      join(opts.out, "placement.json"),
      `${JSON.stringify({ ...report, curves: Object.fromEntries(results.map((r) => [r.summary.policy, r.curve])) }, null, 2)}\n`,
    );
    const chart = allocationChart(
      results.map((r) => ({ name: r.summary.policy, points: r.curve })),
      `GPU allocation vs arrived demand (${nodes.length} nodes, ${opts.seeds} seed${opts.seeds > 1 ? "s" : ""})`,
    );
    await writeFile(join(opts.out, "placement.svg"), chart);
  }
  process.stdout.write(
    opts.json ? `${JSON.stringify(report, null, 2)}\n` : `${table(report.policies)}\n`,
  );
}
