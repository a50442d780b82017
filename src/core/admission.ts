// AdmissionReview (admission.k8s.io/v1) request -> AdmissionResponse for pods. Pure: the patch is
// the JSON diff between the pod as received and as mutated, so it only touches what changed.

import jsonPatch from "fast-json-patch";
import { mutatePod, type MutateDecision, type MutatePolicy } from "./mutate.js";
import { podRequest } from "./pod-request.js";
import {
  quotaExceeded,
  quotaResourceNames,
  requestQuotaUsage,
  type NamespaceQuota,
} from "./quota.js";
import { Reason, SkipReason } from "./reasons.js";
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

/** A namespace's GPU quota, when the caller knows it (the webhook inside `hami scheduler`). */
export type QuotaLookup = (namespace: string) => NamespaceQuota | undefined;

/** HAMi's admission quota check (fitResourceQuota): what can be counted before placement. */
function overQuota(
  decision: MutateDecision,
  namespace: string,
  policy: MutatePolicy,
  quotas: QuotaLookup | undefined,
): MutateDecision {
  if (decision.kind !== "mutate" || quotas === undefined) return decision;
  const quota = quotas(namespace);
  if (quota === undefined) return decision;
  const asked = requestQuotaUsage(podRequest(decision.pod, policy));
  const names = { ...quotaResourceNames(policy.resourceNames), memoryFactor: policy.memoryFactor };
  const message = quotaExceeded(quota, asked, names);
  return message === undefined
    ? decision
    : { kind: "deny", code: 403, reason: Reason.ResourceQuotaExceeded, message };
}

/** Answers one admission request; pods being created are mutated, everything else is allowed. */
export function admit(
  request: AdmissionRequest,
  policy: MutatePolicy,
  quotas?: QuotaLookup,
): AdmissionOutcome {
  const { uid } = request;
  if (!isPodCreate(request) || request.object === undefined) {
    const message = `${request.operation} ${request.kind.kind} is not a pod creation`;
    return {
      response: { uid, allowed: true },
      decision: { kind: "skip", reason: SkipReason.NotPodCreate, message },
    };
  }
  const namespace = request.namespace ?? request.object.metadata?.namespace ?? "default";
  const decision = overQuota(mutatePod(request.object, policy), namespace, policy, quotas);
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
