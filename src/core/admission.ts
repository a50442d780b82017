// AdmissionReview (admission.k8s.io/v1) request -> AdmissionResponse for pods. Pure: the patch is
// the JSON diff between the pod as received and as mutated, so it only touches what changed.

import jsonPatch from "fast-json-patch";
import { mutatePod, type MutateDecision, type MutatePolicy } from "./mutate.js";
import { SkipReason } from "./reasons.js";
import type { Pod } from "./types.js";

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  operation: string;
  namespace?: string;
  object?: Pod;
}

export interface AdmissionStatus {
  code: number;
  reason: string;
  message: string;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: "JSONPatch";
  patch?: string;
  warnings?: string[];
  status?: AdmissionStatus;
}

export interface AdmissionOutcome {
  response: AdmissionResponse;
  decision: MutateDecision;
}

const STATUS_REASON: Record<number, string> = { 400: "BadRequest", 403: "Forbidden" };

function isPodCreate(request: AdmissionRequest): boolean {
  const { group, kind } = request.kind;
  return group === "" && kind === "Pod" && request.operation === "CREATE";
}

/** Answers one admission request; pods being created are mutated, everything else is allowed. */
export function admit(request: AdmissionRequest, policy: MutatePolicy): AdmissionOutcome {
  const { uid } = request;
  if (!isPodCreate(request) || request.object === undefined) {
    const message = `${request.operation} ${request.kind.kind} is not a pod creation`;
    return {
      response: { uid, allowed: true },
      decision: { kind: "skip", reason: SkipReason.NotPodCreate, message },
    };
  }
  const decision = mutatePod(request.object, policy);
  switch (decision.kind) {
    case "skip":
      return { response: { uid, allowed: true }, decision };
    case "deny": {
      const status = {
        code: decision.code,
        reason: STATUS_REASON[decision.code] ?? "BadRequest",
        message: `[${decision.reason}] ${decision.message}`,
      };
      return { response: { uid, allowed: false, status }, decision };
    }
    case "mutate": {
      const operations = jsonPatch.compare(request.object, decision.pod);
      const response: AdmissionResponse = { uid, allowed: true };
      if (operations.length > 0) {
        response.patchType = "JSONPatch";
        response.patch = Buffer.from(JSON.stringify(operations)).toString("base64");
      }
      const warnings = [
        ...decision.warnings,
        ...decision.changes.map((change) => `hami: ${change}`),
      ];
      if (warnings.length > 0) response.warnings = warnings;
      return { response, decision };
    }
  }
}
