// The audit query behind `hami events`: which subjects to read, which events to keep, and how a
// row reads. Pure functions; the CLI does the I/O.

import { EventTypes, type EventType, type HamiEvent } from "./schema.js";
import { subjectToken } from "./subjects.js";

export interface EventQuery {
  type?: EventType;
  namespace?: string;
  pod?: { namespace: string; name: string };
  node?: string;
}

export class QueryError extends Error {
  override readonly name = "QueryError";
}

const DURATION = /^(\d+)(s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since`: a duration back from now (90s, 15m, 1h, 7d) or an RFC 3339 time. */
export function parseSince(raw: string, now: Date): Date {
  const match = DURATION.exec(raw.trim());
  if (match) return new Date(now.getTime() - Number(match[1]) * (UNIT_MS[match[2] ?? "s"] ?? 0));
  const time = Date.parse(raw);
  if (Number.isNaN(time) || !/^\d{4}-\d{2}-\d{2}/.test(raw)) {
    throw new QueryError(
      `--since=${raw}: give a duration like 30s, 15m, 1h, 7d or a time like 2026-01-01T00:00:00Z`,
    );
  }
  return new Date(time);
}

export function parseEventType(raw: string): EventType {
  const found = EventTypes.find((type) => type === raw);
  if (!found) throw new QueryError(`--type=${raw}: must be one of ${EventTypes.join(", ")}`);
  return found;
}

export function parsePodRef(raw: string): { namespace: string; name: string } {
  const [namespace, name, extra] = raw.split("/");
  if (!namespace || !name || extra !== undefined)
    throw new QueryError(`--pod=${raw}: give NAMESPACE/NAME`);
  return { namespace, name };
}

/** The narrowest subject filter (below hami.events.) that still holds every matching event. */
export function subjectFilterFor(query: EventQuery): string {
  if (query.type === undefined) return ">";
  const namespace = query.namespace ?? query.pod?.namespace;
  const scope = query.type === "admission" ? namespace : query.node;
  return `${query.type}.${scope === undefined ? "*" : subjectToken(scope)}`;
}

export function matchesQuery(event: HamiEvent, query: EventQuery): boolean {
  if (query.type !== undefined && event.type !== query.type) return false;
  if (query.namespace !== undefined && event.pod.namespace !== query.namespace) return false;
  if (query.node !== undefined && event.node !== query.node) return false;
  const pod = query.pod;
  return (
    pod === undefined || (event.pod.namespace === pod.namespace && event.pod.name === pod.name)
  );
}

export const TABLE_HEADER = ["TIME", "TYPE", "POD", "NODE", "DEVICES", "REASON"];
const WIDTHS = [24, 10, 40, 20, 30];

function devices(event: HamiEvent): string {
  const all = (event.containers ?? []).flatMap((container) =>
    container.devices.map(
      (device) => `${container.name}:${device.uuid}(${device.memoryMiB}MiB,${device.cores}%)`,
    ),
  );
  return all.join(" ") || "-";
}

function pad(cells: string[]): string {
  return cells.map((cell, i) => (i < WIDTHS.length ? cell.padEnd(WIDTHS[i] ?? 0) : cell)).join(" ");
}

export function formatHeader(): string {
  return pad(TABLE_HEADER);
}

export function formatRow(event: HamiEvent): string {
  const pod = `${event.pod.namespace}/${event.pod.name}`;
  const reason = [event.reason, ...(event.changes ?? [])]
    .filter((part) => part !== undefined)
    .join("; ");
  return pad([event.time, event.type, pod, event.node ?? "-", devices(event), reason || "-"]);
}
