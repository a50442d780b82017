// Typed errors: a reason code plus the offending field and value, so every adapter can turn them
// into an AdmissionResponse, an HTTP 400 or a log line without parsing messages.

import type { Reason } from "./reasons.js";

/** Longest value shown in a message or log line; a longer one shows its first bytes and its size. */
const SHOWN_CHARS = 200;
const SHOWN_DEPTH = 3;
const SHOWN_ITEMS = 10;

/** Text cut to `max` characters, saying how long it was. */
export function capText(text: string, max = SHOWN_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max)}... (${text.length} chars)`;
}

function scalar(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.slice(0, SHOWN_CHARS));
  if (typeof value === "bigint") return `${value}`;
  // undefined, functions and symbols have no JSON form.
  const json = JSON.stringify(value) as string | undefined;
  return json ?? String(value);
}

function container(value: object, depth: number): string {
  if (depth >= SHOWN_DEPTH) return Array.isArray(value) ? "[...]" : "{...}";
  const more = (size: number): string => (size > SHOWN_ITEMS ? ",..." : "");
  if (Array.isArray(value)) {
    const items = value.slice(0, SHOWN_ITEMS).map((v) => shallow(v, depth + 1));
    return `[${items.join(",")}${more(value.length)}]`;
  }
  const keys = Object.keys(value);
  const items = keys
    .slice(0, SHOWN_ITEMS)
    .map(
      (k) =>
        `${JSON.stringify(k.slice(0, SHOWN_CHARS))}:${shallow((value as Record<string, unknown>)[k], depth + 1)}`,
    );
  return `{${items.join(",")}${more(keys.length)}}`;
}

function shallow(value: unknown, depth: number): string {
  return value !== null && typeof value === "object" ? container(value, depth) : scalar(value);
}

/** Any value as bounded JSON-like text for messages and logs: depth, items and length capped, the
 * size said when cut. Never throws and never recurses past a few levels (input may be hostile). */
export function preview(value: unknown): string {
  const text = shallow(value, 0);
  if (typeof value === "string" && value.length > SHOWN_CHARS)
    return `${text}... (${value.length} chars)`;
  return capText(text, SHOWN_CHARS * 2);
}

export class HamiError extends Error {
  override readonly name: string = "HamiError";
  readonly reason: Reason;
  readonly field: string;
  readonly value: unknown;

  constructor(reason: Reason, field: string, value: unknown, message: string) {
    super(`${field}=${preview(value)}: ${message}`);
    this.reason = reason;
    this.field = field;
    this.value = value;
  }
}
