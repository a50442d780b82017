// The openb trace (alibaba/clusterdata cluster-trace-gpu-v2023) as nodes and pods hami would see:
// a node's GPUs as registered devices; a task as a pod with HAMi's resources. Rows are validated;
// a bad row is an error naming the file, line, column and value.

import { z } from "zod";
import { HAMI_CORE_MODE, type Device, type Pod } from "../core/index.js";
import { modelMemory } from "./models.js";

/** Sharing is not limited by a slot count in the trace: a GPU takes as many tasks as fit. */
export const TRACE_SPLIT_COUNT = 1000;

const integer = z.coerce.number().int().nonnegative();

const nodeRow = z.object({
  sn: z.string().min(1),
  cpu_milli: integer,
  memory_mib: integer,
  gpu: integer,
  model: z.string(),
});

const podRow = z.object({
  name: z.string().min(1),
  cpu_milli: integer,
  memory_mib: integer,
  num_gpu: integer,
  gpu_milli: integer.max(1000),
  gpu_spec: z.string(),
});

export interface SimNode {
  name: string;
  model: string;
  cpuMilli: number;
  memoryMiB: number;
  devices: Device[];
}

export interface SimTask {
  name: string;
  cpuMilli: number;
  memoryMiB: number;
  gpus: number;
  /** Thousandths of one GPU per device. */
  gpuMilli: number;
  /** Allowed models; empty = any. */
  spec: string[];
}

export class TraceError extends Error {
  override readonly name = "TraceError";
}

function rows(text: string, file: string): { line: number; cells: Record<string, string> }[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  const header = (lines[0] ?? "").split(",").map((h) => h.trim());
  return lines.slice(1).map((line, i) => {
    const values = line.split(",");
    if (values.length !== header.length)
      throw new TraceError(
        `${file} line ${i + 2}: ${values.length} columns, the header has ${header.length}`,
      );
    return {
      line: i + 2,
      cells: Object.fromEntries(header.map((h, j) => [h, (values[j] ?? "").trim()])),
    };
  });
}

function validate<T>(
  schema: z.ZodType<T>,
  row: { line: number; cells: Record<string, string> },
  file: string,
): T {
  const parsed = schema.safeParse(row.cells);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const column = String(issue?.path[0] ?? "?");
  throw new TraceError(
    `${file} line ${row.line}: ${column}=${JSON.stringify(row.cells[column])}: ${issue?.message ?? "invalid"}`,
  );
}

export function parseNodes(text: string, file = "nodes"): SimNode[] {
  return rows(text, file).map((row) => {
    const n = validate(nodeRow, row, file);
    const memoryMiB = n.gpu > 0 ? modelMemory(n.model) : 0;
    const devices: Device[] = Array.from({ length: n.gpu }, (_, index) => ({
      uuid: `${n.sn}-gpu${index}`,
      index,
      type: n.model,
      memoryMiB,
      cores: 100,
      splitCount: TRACE_SPLIT_COUNT,
      numa: 0,
      mode: HAMI_CORE_MODE,
      healthy: true,
    }));
    return { name: n.sn, model: n.model, cpuMilli: n.cpu_milli, memoryMiB: n.memory_mib, devices };
  });
}

export function parseTasks(text: string, file = "pods"): SimTask[] {
  return rows(text, file).map((row) => {
    const p = validate(podRow, row, file);
    const spec =
      p.gpu_spec === "" || p.gpu_spec.toLowerCase() === "nan"
        ? []
        : p.gpu_spec
            .split("|")
            .map((s) => s.trim())
            .filter((s) => s !== "");
    if (p.num_gpu > 1 && p.gpu_milli !== 1000)
      throw new TraceError(
        `${file} line ${row.line}: num_gpu=${p.num_gpu} with gpu_milli=${p.gpu_milli}: multi-GPU tasks take whole GPUs`,
      );
    if (p.num_gpu === 1 && p.gpu_milli === 0)
      throw new TraceError(`${file} line ${row.line}: num_gpu=1 with gpu_milli=0`);
    return {
      name: p.name,
      cpuMilli: p.cpu_milli,
      memoryMiB: p.memory_mib,
      gpus: p.num_gpu,
      gpuMilli: p.num_gpu === 0 ? 0 : p.gpu_milli,
      spec,
    };
  });
}

/** The pod hami would schedule for a task: a sharing task is one GPU with cores = gpu_milli/10 %
 * and the same percentage of that GPU's memory; whole-GPU tasks take whole GPUs (exclusive);
 * gpu_spec becomes nvidia.com/use-gputype. */
export function taskPod(task: SimTask): Pod {
  const limits: Record<string, string> =
    task.gpus === 0
      ? {}
      : {
          "nvidia.com/gpu": String(task.gpus),
          "nvidia.com/gpumem-percentage": String(task.gpuMilli / 10),
          "nvidia.com/gpucores": String(task.gpuMilli / 10),
        };
  const annotations =
    task.spec.length > 0 ? { "nvidia.com/use-gputype": task.spec.join(",") } : undefined;
  return {
    metadata: { name: task.name, namespace: "trace", ...(annotations ? { annotations } : {}) },
    spec: { containers: [{ name: "task", resources: { limits } }] },
  };
}
