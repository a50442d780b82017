// The kube-scheduler extender wire format (k8s.io/kube-scheduler/extender/v1). Those Go structs
// carry no json tags, so the field names on the wire are the Go names: Pod, NodeNames, FailedNodes,
// Host, Score, PodName, ... Inputs are decoded with zod; a bad body is an HTTP 400 naming the field.

import { z } from "zod";
import { capText, podSchema, type Pod } from "../core/index.js";

export const extenderArgsSchema = z.object({
  Pod: podSchema,
  Nodes: z
    .object({ items: z.array(z.looseObject({ metadata: z.looseObject({ name: z.string() }) })) })
    .nullish(),
  NodeNames: z.array(z.string()).nullish(),
});

export const bindingArgsSchema = z.object({
  PodName: z.string().min(1),
  PodNamespace: z.string().min(1),
  PodUID: z.string(),
  Node: z.string().min(1),
});

export interface ExtenderArgs {
  pod: Pod;
  nodeNames: string[];
}
export type BindingArgs = z.infer<typeof bindingArgsSchema>;

export interface ExtenderFilterResult {
  NodeNames: string[];
  FailedNodes: Record<string, string>;
  FailedAndUnresolvableNodes: Record<string, string>;
  Error: string;
}
export interface HostPriority {
  Host: string;
  Score: number;
}
export interface ExtenderBindingResult {
  Error: string;
}

export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
  readonly status = 400;
}

/** Each issue with its path, capped: a hostile body never makes a huge message. */
function describe(error: z.ZodError): string {
  return capText(
    error.issues
      .slice(0, 10)
      .map((issue) => `${issue.path.slice(0, 20).join(".") || "(body)"}: ${issue.message}`)
      .join("; "),
  );
}

export function decodeExtenderArgs(body: unknown): ExtenderArgs {
  const parsed = extenderArgsSchema.safeParse(body);
  if (!parsed.success) throw new ProtocolError(`invalid ExtenderArgs: ${describe(parsed.error)}`);
  const { Pod, Nodes, NodeNames } = parsed.data;
  const nodeNames = NodeNames ?? Nodes?.items.map((n) => n.metadata.name) ?? [];
  const spec = { ...Pod.spec, initContainers: Pod.spec.initContainers ?? undefined };
  return { pod: { ...Pod, spec } as Pod, nodeNames };
}

export function decodeBindingArgs(body: unknown): BindingArgs {
  const parsed = bindingArgsSchema.safeParse(body);
  if (!parsed.success)
    throw new ProtocolError(`invalid ExtenderBindingArgs: ${describe(parsed.error)}`);
  return parsed.data;
}
