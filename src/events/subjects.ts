// Subject layout of the HAMI_EVENTS stream (DESIGN.md section 6) and NATS wildcard matching, shared
// by the NATS bus and the in-memory bus so both route events identically.

import type { HamiEvent } from "./schema.js";

export const SUBJECT_PREFIX = "hami.events";

/** Node names may contain dots (NATS token separators) but never underscores: reversible. */
export function subjectToken(value: string): string {
  return value.replaceAll(".", "_") || "_";
}

export function subjectFor(event: HamiEvent): string {
  const scope = event.type === "admission" ? event.pod.namespace : (event.node ?? "_");
  return `${SUBJECT_PREFIX}.${event.type}.${subjectToken(scope)}`;
}

/** The full subject for a filter written below the prefix ("allocation.node-1", "*.*", ">"). */
export function filterSubject(filter: string): string {
  return `${SUBJECT_PREFIX}.${filter}`;
}

/** NATS semantics: `*` matches one token, a trailing `>` one or more. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const want = pattern.split(".");
  const have = subject.split(".");
  for (let i = 0; i < want.length; i++) {
    const token = want[i];
    if (token === ">") return have.length > i;
    if (i >= have.length || (token !== "*" && token !== have[i])) return false;
  }
  return want.length === have.length;
}
