// Applies the example pods (examples/pods) and reports where each landed: node, devices, memory and
// cores per device, bind phase, and the environment each container received from Allocate.

import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { CoreV1Api, V1Pod, V1Toleration } from "@kubernetes/client-node";
import { parse } from "yaml";
import { Annotation, migSliceText, plannedDevices, type ContainerDevice } from "../core/index.js";
import { containersInDeviceOrder } from "../k8s/index.js";
import { waitFor } from "./net.js";
import type { SimulatedKubelet } from "./simulated-kubelet.js";

export interface PodReport {
  name: string;
  node: string;
  phase: string;
  bindPhase: string;
  devices: string;
  env: string;
  reason?: string;
}

/** On a real node a container prints what Allocate gave it, then sleeps (the report reads its log). */
const SHOW_ENV = "env | grep -E '^(NVIDIA_VISIBLE_DEVICES|CUDA_)' | sort; exec sleep 2147483647";

/** The example with every container running `image` (already on the node, never pulled) and
 * printing its GPU environment: a real node has no registry to pull the examples' CUDA images from. */
export function forRealNode(pod: V1Pod, image: string): V1Pod {
  const copy = structuredClone(pod);
  for (const c of [...(copy.spec?.containers ?? []), ...(copy.spec?.initContainers ?? [])]) {
    c.image = image;
    c.imagePullPolicy = "Never";
    c.command = ["sh", "-c", SHOW_ENV];
    c.args = [];
  }
  return copy;
}

export async function applyExamples(
  core: CoreV1Api,
  dir: string,
  options: { namespace?: string; realNodeImage?: string; tolerate?: V1Toleration } = {},
): Promise<string[]> {
  const namespace = options.namespace ?? "default";
  const files = (await readdir(dir)).filter((f) => f.endsWith(".yaml")).sort();
  const names: string[] = [];
  for (const file of files) {
    const parsed = parse(await readFile(join(dir, file), "utf8")) as V1Pod;
    const pod =
      options.realNodeImage === undefined ? parsed : forRealNode(parsed, options.realNodeImage);
    if (options.tolerate !== undefined && pod.spec !== undefined)
      pod.spec.tolerations = [...(pod.spec.tolerations ?? []), options.tolerate];
    await core.createNamespacedPod({ namespace, body: pod });
    names.push(pod.metadata?.name ?? file);
  }
  return names;
}

function unschedulable(pod: V1Pod): string | undefined {
  const condition = pod.status?.conditions?.find(
    (c) => c.type === "PodScheduled" && c.status === "False",
  );
  return condition?.reason === "Unschedulable" ? (condition.message ?? "Unschedulable") : undefined;
}

function settled(pod: V1Pod): boolean {
  const phase = pod.status?.phase;
  return phase === "Running" || phase === "Failed" || unschedulable(pod) !== undefined;
}

/** Waits until every pod runs, failed, or is unschedulable with a reason; on timeout names the
 * pods still waiting and their conditions. */
export async function waitPlaced(
  core: CoreV1Api,
  names: string[],
  namespace = "default",
  timeoutMs = 120_000,
): Promise<V1Pod[]> {
  let last: V1Pod[] = [];
  try {
    return await waitFor(
      "example pods placed",
      async () => {
        last = (await core.listNamespacedPod({ namespace })).items.filter((p) =>
          names.includes(p.metadata?.name ?? ""),
        );
        return last.length === names.length && last.every(settled) ? last : undefined;
      },
      timeoutMs,
    );
  } catch (error) {
    const waiting = last
      .filter((p) => !settled(p))
      .map(
        (p) =>
          `${p.metadata?.name ?? ""}: node=${p.spec?.nodeName ?? "-"} phase=${p.status?.phase ?? "-"} ${JSON.stringify(p.status?.conditions ?? [])}`,
      );
    throw new Error(`${String(error)}\nstill waiting:\n${waiting.join("\n")}`);
  }
}

const ENV_SHOWN =
  /^(NVIDIA_VISIBLE_DEVICES|CUDA_DEVICE_MEMORY_LIMIT_\d+|CUDA_DEVICE_SM_LIMIT|CUDA_OVERSUBSCRIBE)$/;

function containerNames(pod: V1Pod): string[] {
  return containersInDeviceOrder(pod).map((c) => c.name);
}

function describeDevice(d: ContainerDevice): string {
  const shown = `${d.uuid} ${d.memoryMiB}MiB ${d.cores}%`;
  if (d.mig === undefined) return shown;
  return `${shown} MIG ${migSliceText(d.mig)}`;
}

function describeDevices(pod: V1Pod): string {
  const planned = plannedDevices(pod.metadata?.annotations ?? {});
  if (planned === undefined) return "-";
  const names = containerNames(pod);
  return planned
    .map((list, i) =>
      list.length === 0 ? "" : `${names[i] ?? i}: ${list.map(describeDevice).join(", ")}`,
    )
    .filter((s) => s !== "")
    .join("; ");
}

/** What each container's env was, per `<namespace>/<pod>/<container>`: the simulated kubelets
 * record Allocate's answer; a real node's containers print it (logged). */
function describeEnv(
  pod: V1Pod,
  envOf: (key: string) => Record<string, string> | undefined,
): string {
  const key = `${pod.metadata?.namespace ?? "default"}/${pod.metadata?.name ?? ""}`;
  const parts = containerNames(pod).map((c) => {
    const envs = envOf(`${key}/${c}`);
    if (envs === undefined) return "";
    const shown = Object.entries(envs)
      .filter(([k]) => ENV_SHOWN.test(k))
      .sort(([a], [b]) => a.localeCompare(b));
    return `${c}: ${shown.map(([k, v]) => `${k}=${v}`).join(" ")}`;
  });
  const env = parts.filter((s) => s !== "").join("; ");
  return env === "" ? "-" : env;
}

/** `NAME=VALUE` lines (as `env` prints them) as a record; other lines are skipped. */
export function parseEnvLines(text: string): Record<string, string> {
  const pairs = text
    .split("\n")
    .filter((line) => line.includes("="))
    .map((line): [string, string] => [
      line.slice(0, line.indexOf("=")),
      line.slice(line.indexOf("=") + 1),
    ]);
  return Object.fromEntries(pairs);
}

/** The env lines the containers on `node` printed (forRealNode), read from their logs. */
export async function loggedEnvs(
  core: CoreV1Api,
  pods: V1Pod[],
  node: string,
): Promise<Map<string, Record<string, string>>> {
  const found = new Map<string, Record<string, string>>();
  for (const pod of pods.filter(
    (p) => p.spec?.nodeName === node && p.status?.phase === "Running",
  )) {
    const { name = "", namespace = "default" } = pod.metadata ?? {};
    for (const container of pod.spec?.containers ?? []) {
      const log = await waitFor(
        `${namespace}/${name}/${container.name} printed its env`,
        async () => {
          const text = await core.readNamespacedPodLog({
            name,
            namespace,
            container: container.name,
          });
          return text.includes("=") ? text : undefined;
        },
        20_000,
      );
      found.set(`${namespace}/${name}/${container.name}`, parseEnvLines(log));
    }
  }
  return found;
}

export function reportPods(
  pods: V1Pod[],
  kubelets: SimulatedKubelet[],
  logged: ReadonlyMap<string, Record<string, string>> = new Map(),
): PodReport[] {
  const envOf = (key: string): Record<string, string> | undefined =>
    kubelets.map((k) => k.allocations.get(key)?.envs).find((e) => e !== undefined) ??
    logged.get(key);
  return pods
    .map((pod): PodReport => {
      const reason = unschedulable(pod) ?? pod.status?.message;
      const meta = pod.metadata ?? {};
      return {
        name: meta.name ?? "",
        node: pod.spec?.nodeName ?? "-",
        phase: pod.status?.phase ?? "-",
        bindPhase: meta.annotations?.[Annotation.bindPhase] ?? "-",
        devices: describeDevices(pod),
        env: describeEnv(pod, envOf),
        ...(reason === undefined ? {} : { reason }),
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

export function formatReport(rows: PodReport[]): string {
  const lines = rows.map((r) =>
    [
      `${r.name}  node=${r.node}  phase=${r.phase}  bind-phase=${r.bindPhase}`,
      `    devices: ${r.devices}`,
      `    env:     ${r.env}`,
      ...(r.reason ? [`    reason:  ${r.reason}`] : []),
    ].join("\n"),
  );
  return lines.join("\n");
}
