// Decoding of AdmissionReview bodies with zod. Unknown fields are kept (loose objects): the patch
// is a diff against what we received, so nothing we do not model may be dropped.

import { z } from "zod";
import { describeIssues } from "../config/index.js";
import { podSchema, type AdmissionRequest, type Pod } from "../core/index.js";

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
    const { spec } = pod.data;
    request.object = {
      ...pod.data,
      spec: { ...spec, initContainers: spec.initContainers ?? undefined },
    } as Pod;
  }
  return { ok: true, request, dryRun: dryRun === true };
}
