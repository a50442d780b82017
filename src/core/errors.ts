// Typed errors: a reason code plus the offending field and value, so every adapter can turn them
// into an AdmissionResponse, an HTTP 400 or a log line without parsing messages.

import type { Reason } from "./reasons.js";

export class HamiError extends Error {
  override readonly name: string = "HamiError";
  readonly reason: Reason;
  readonly field: string;
  readonly value: unknown;

  constructor(reason: Reason, field: string, value: unknown, message: string) {
    super(`${field}=${JSON.stringify(value)}: ${message}`);
    this.reason = reason;
    this.field = field;
    this.value = value;
  }
}
