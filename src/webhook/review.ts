// Decoding of AdmissionReview bodies with zod. Unknown fields are kept (loose objects): the patch
// is a diff against what we received, so nothing we do not model may be dropped.

import { z } from "zod";
import { describeIssues } from "../config/index.js";
import type { AdmissionRequest, Pod } from "../core/index.js";

const quantity = z.union([z.string(), z.number()]);
const resourceList = z.record(z.string(), quantity);

const container = z.looseObject({
  name: z.string().min(1),
  resources: z
    .looseObject({ limits: resourceList.optional(), requests: resourceList.optional() })
    .optional(),
  env: z.array(z.looseObject({ name: z.string().min(1), value: z.string().optional() })).optional(),
  securityContext: z.looseObject({ privileged: z.boolean().optional() }).nullable().optional(),
});

const stringMap = z.record(z.string(), z.string());

export const podSchema = z.looseObject({
  metadata: z
    .looseObject({
      name: z.string().optional(),
      generateName: z.string().optional(),
      namespace: z.string().optional(),
      uid: z.string().optional(),
      labels: stringMap.optional(),
      annotations: stringMap.optional(),
    })
    .optional(),
  spec: z.looseObject({
    containers: z.array(container).min(1),
    initContainers: z.array(container).optional(),
    schedulerName: z.string().optional(),
    nodeName: z.string().optional(),
    runtimeClassName: z.string().optional(),
  }),
});

const requestSchema = z.looseObject({
  uid: z.string().min(1),
  kind: z.object({ group: z.string(), version: z.string(), kind: z.string() }),
  operation: z.string().min(1),
  namespace: z.string().optional(),
  object: z.unknown().optional(),
  dryRun: z.boolean().optional(),
});

export const reviewSchema = z.looseObject({
  apiVersion: z.literal("admission.k8s.io/v1"),
  kind: z.literal("AdmissionReview"),
  request: requestSchema,
});

export type DecodedReview =
  | { ok: true; request: AdmissionRequest; dryRun: boolean }
  | { ok: false; uid?: string; problems: string[] };

function isPod(kind: { group: string; kind: string }): boolean {
  return kind.group === "" && kind.kind === "Pod";
}

/** Decodes a review; a bad envelope has no uid, a bad pod inside a good envelope keeps its uid. */
export function decodeReview(body: unknown): DecodedReview {
  const envelope = reviewSchema.safeParse(body);
  if (!envelope.success)
    return { ok: false, problems: describeIssues(envelope.error.issues, body) };
  const { uid, kind, operation, namespace, object, dryRun } = envelope.data.request;
  const request: AdmissionRequest = { uid, kind, operation, namespace };
  if (isPod(kind) && object !== undefined && object !== null) {
    const pod = podSchema.safeParse(object);
    if (!pod.success) {
      const problems = describeIssues(pod.error.issues, object).map(
        (problem) => `request.object.${problem}`,
      );
      return { ok: false, uid, problems };
    }
    // The schema checks every field core reads; the loose objects carry the rest unchanged.
    request.object = pod.data as Pod;
  }
  return { ok: true, request, dryRun: dryRun === true };
}
