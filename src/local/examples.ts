// Applies the example pods (examples/pods) and reports where each landed: node, devices, memory and
// cores per device, bind phase, and the environment each container received from Allocate.

import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { CoreV1Api, V1Pod } from "@kubernetes/client-node";
import { parse } from "yaml";
import { allocationRecord, Annotation, decodePodDevices } from "../core/index.js";
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

export async function applyExamples(
  core: CoreV1Api,
  dir: string,
  namespace = "default",
): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".yaml")).sort();
  const names: string[] = [];
  for (const file of files) {
    const pod = parse(await readFile(join(dir, file), "utf8")) as V1Pod;
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

function describeDevices(pod: V1Pod): string {
  const { key, raw } = allocationRecord(pod.metadata?.annotations ?? {});
  if (raw === undefined) return "-";
  const names = containerNames(pod);
  return decodePodDevices(raw, key)
    .map((list, i) =>
      list.length === 0
        ? ""
        : `${names[i] ?? i}: ${list.map((d) => `${d.uuid} ${d.memoryMiB}MiB ${d.cores}%`).join(", ")}`,
    )
    .filter((s) => s !== "")
    .join("; ");
}

function describeEnv(pod: V1Pod, kubelets: SimulatedKubelet[]): string {
  const key = `${pod.metadata?.namespace ?? "default"}/${pod.metadata?.name ?? ""}`;
  const parts = containerNames(pod).map((c) => {
    const response = kubelets
      .map((k) => k.allocations.get(`${key}/${c}`))
      .find((r) => r !== undefined);
    if (response === undefined) return "";
    const shown = Object.entries(response.envs)
      .filter(([k]) => ENV_SHOWN.test(k))
      .sort(([a], [b]) => a.localeCompare(b));
    return `${c}: ${shown.map(([k, v]) => `${k}=${v}`).join(" ")}`;
  });
  const env = parts.filter((s) => s !== "").join("; ");
  return env === "" ? "-" : env;
}

export function reportPods(pods: V1Pod[], kubelets: SimulatedKubelet[]): PodReport[] {
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
        env: describeEnv(pod, kubelets),
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
