// The admission pipeline for one HTTP body: decode -> core.admit -> log, count, publish -> encode.
// Publishing is fire-and-forget (EventBus.publish never waits), so NATS never delays an admission.

import {
  admit,
  type AdmissionOutcome,
  type AdmissionRequest,
  type AdmissionResponse,
  type MutatePolicy,
  type Pod,
  type QuotaLookup,
} from "../core/index.js";
import { eventId, type EventBus, type HamiEvent } from "../events/index.js";
import type { Logger, WebhookMetrics } from "../telemetry/index.js";
import { decodeReview } from "./review.js";

export interface AdmissionDeps {
  /** Read per request, so a reloaded config applies to the next admission. */
  policy: () => MutatePolicy;
  log: Logger;
  metrics: WebhookMetrics;
  bus?: EventBus;
  clock: () => Date;
  /** Namespace GPU quotas, where this process keeps them (the webhook inside hami scheduler). */
  quotas?: QuotaLookup;
}

export type HandlerResult =
  | {
      status: 200;
      body: {
        apiVersion: "admission.k8s.io/v1";
        kind: "AdmissionReview";
        response: AdmissionResponse;
      };
    }
  | { status: 400; body: { error: string; problems: string[] } };

function review(response: AdmissionResponse): HandlerResult {
  return {
    status: 200,
    body: { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response },
  };
}

function podName(pod: Pod | undefined): string {
  const name = pod?.metadata?.name;
  if (name !== undefined && name !== "") return name;
  const generate = pod?.metadata?.generateName;
  return generate === undefined ? "" : `${generate}*`;
}

function namespaceOf(request: AdmissionRequest): string {
  return request.namespace ?? request.object?.metadata?.namespace ?? "";
}

function admissionEvent(
  request: AdmissionRequest,
  outcome: AdmissionOutcome,
  now: Date,
): HamiEvent | undefined {
  const { decision } = outcome;
  if (decision.kind === "skip") return undefined;
  const denied = decision.kind === "deny";
  return {
    type: "admission",
    version: 1,
    time: now.toISOString(),
    id: eventId("admission", request.uid, 0),
    pod: {
      uid: request.object?.metadata?.uid ?? "",
      namespace: namespaceOf(request),
      name: podName(request.object),
    },
    reason: denied ? `denied: ${decision.reason}` : "mutated",
    changes: denied ? [decision.message] : [...decision.changes, ...decision.warnings],
  };
}

/** One log line and the counters per decision. */
function record(request: AdmissionRequest, outcome: AdmissionOutcome, deps: AdmissionDeps): void {
  const { decision } = outcome;
  const fields = {
    uid: request.uid,
    namespace: namespaceOf(request),
    pod: podName(request.object),
    decision: decision.kind,
  };
  deps.metrics.requests.inc({ decision: decision.kind });
  switch (decision.kind) {
    case "deny":
      deps.metrics.denials.inc({ reason: decision.reason });
      deps.log.info(
        { ...fields, reason: decision.reason, message: decision.message },
        "admission denied",
      );
      return;
    case "mutate":
      deps.log.info(
        { ...fields, changes: decision.changes, warnings: decision.warnings },
        "admission mutated",
      );
      return;
    case "skip":
      deps.log.debug(
        { ...fields, reason: decision.reason, message: decision.message },
        "admission skipped",
      );
  }
}

export function handleAdmission(body: unknown, deps: AdmissionDeps): HandlerResult {
  const decoded = decodeReview(body);
  if (!decoded.ok) {
    deps.metrics.requests.inc({ decision: "error" });
    deps.log.warn(
      { uid: decoded.uid, problems: decoded.problems },
      "admission request rejected: malformed",
    );
    if (decoded.uid === undefined) {
      return {
        status: 400,
        body: { error: "malformed AdmissionReview", problems: decoded.problems },
      };
    }
    const message = `malformed pod: ${decoded.problems.join("; ")}`;
    return review({
      uid: decoded.uid,
      allowed: false,
      status: { code: 400, reason: "BadRequest", message },
    });
  }
  const { request, dryRun } = decoded;
  const outcome = admit(request, deps.policy(), deps.quotas);
  record(request, outcome, deps);
  // A dry run must have no side effects (the webhook is registered with sideEffects: NoneOnDryRun).
  if (deps.bus && !dryRun) {
    const event = admissionEvent(request, outcome, deps.clock());
    if (event) deps.bus.publish(event);
  }
  return review(outcome.response);
}
