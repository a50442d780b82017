// `hami cordon NODE/GPU` and `hami uncordon NODE/GPU`: a live, per-GPU cordon, HAMi's way: the
// node's hami.io/device-cordon annotation lists GPUs that get no new pods, while the pods on them
// keep running (HAMi reads the same annotation, so either scheduler honours it). The change is a
// read-modify-write with the node's resourceVersion, retried on conflict, so two operators never
// lose each other's cordon.

import { parseArgs } from "node:util";
import { CoreV1Api, type V1Node } from "@kubernetes/client-node";
import {
  Annotation,
  decodeNodeDevices,
  parseDeviceCordon,
  withDeviceCordon,
} from "../core/index.js";
import { isStatus, loadKubeConfig, MERGE_PATCH, retryOnConflict } from "../k8s/index.js";
import { UsageError } from "./usage.js";

export const CORDON_USAGE = `usage: hami cordon NODE/GPU-UUID [--kubeconfig FILE]
  no new pods on that GPU; the pods on it keep running (the node's hami.io/device-cordon, as HAMi
  reads it). 'hami uncordon NODE/GPU-UUID' undoes it; 'hami status' shows CORDONED.`;
export const UNCORDON_USAGE = `usage: hami uncordon NODE/GPU-UUID [--kubeconfig FILE]
  the GPU takes new pods again (removed from the node's hami.io/device-cordon)`;

export class CordonError extends Error {
  override readonly name = "CordonError";
}

function target(argv: string[]): { node: string; uuid: string; kubeconfig?: string } {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { kubeconfig: { type: "string" } },
    allowPositionals: true,
    strict: true,
  });
  const [spec = "", extra] = positionals;
  const cut = spec.indexOf("/");
  const node = spec.slice(0, cut);
  const uuid = spec.slice(cut + 1);
  if (extra !== undefined || cut <= 0 || uuid === "" || /[,\s]/.test(uuid))
    throw new UsageError(`expected NODE/GPU-UUID, got ${JSON.stringify(positionals.join(" "))}`);
  return {
    node,
    uuid,
    ...(values.kubeconfig === undefined ? {} : { kubeconfig: values.kubeconfig }),
  };
}

/** Whether the node registers this GPU; an unreadable register annotation does not block. */
function registered(annotations: Record<string, string>, uuid: string): string[] | undefined {
  const raw = annotations[Annotation.nodeRegister];
  if (raw === undefined) return [];
  try {
    const uuids = decodeNodeDevices(raw).map((d) => d.uuid);
    return uuids.includes(uuid) ? undefined : uuids;
  } catch {
    return undefined;
  }
}

async function readNode(core: CoreV1Api, node: string): Promise<V1Node> {
  return core.readNode({ name: node }).catch((error: unknown) => {
    if (isStatus(error, 404)) throw new CordonError(`node ${node} not found`);
    throw error;
  });
}

/** One read-modify-write of the node's cordon list; what it did, in words. */
async function applyCordon(
  core: CoreV1Api,
  { node, uuid }: { node: string; uuid: string },
  cordoned: boolean,
): Promise<string> {
  const current = await readNode(core, node);
  const annotations = current.metadata?.annotations ?? {};
  const others = registered(annotations, uuid);
  if (cordoned && others !== undefined)
    throw new CordonError(
      `GPU ${uuid} is not registered on node ${node} (registered: ${others.join(", ") || "none"})`,
    );
  const before = annotations[Annotation.deviceCordon];
  if (parseDeviceCordon(before).has(uuid) === cordoned)
    return `already ${cordoned ? "cordoned" : "uncordoned"}`;
  const after = withDeviceCordon(before, uuid, cordoned);
  await core.patchNode(
    {
      name: node,
      body: {
        metadata: {
          resourceVersion: current.metadata?.resourceVersion,
          annotations: { [Annotation.deviceCordon]: after === "" ? null : after },
        },
      },
    },
    MERGE_PATCH,
  );
  return cordoned
    ? "cordoned; no new pods, the pods on it keep running"
    : "uncordoned; it takes new pods again";
}

async function setCordon(argv: string[], cordoned: boolean): Promise<void> {
  const { node, uuid, kubeconfig } = target(argv);
  const core = loadKubeConfig(kubeconfig).makeApiClient(CoreV1Api);
  const done = await retryOnConflict(() => applyCordon(core, { node, uuid }, cordoned));
  process.stdout.write(`${node}/${uuid}: ${done}\n`);
}

export function runCordon(argv: string[]): Promise<void> {
  return setCordon(argv, true);
}

export function runUncordon(argv: string[]): Promise<void> {
  return setCordon(argv, false);
}
