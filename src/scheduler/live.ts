// What the page shows beyond the bookings: each node's latest usage sample (from the node
// monitors, over NATS) and the last audit events. In memory only; refilled from the streams on start.

import type { NodeUsage } from "../core/index.js";
import type { HamiEvent } from "../events/index.js";

/** A node's sample older than this is not shown (its monitor stopped publishing). */
export const USAGE_STALE_MS = 5 * 60_000;

export class LiveUsage {
  private readonly nodes = new Map<string, NodeUsage>();
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  set(usage: NodeUsage): void {
    const known = this.nodes.get(usage.node);
    if (known === undefined || Date.parse(known.time) <= Date.parse(usage.time))
      this.nodes.set(usage.node, usage);
  }

  /** The node's latest sample, unless it is stale. */
  get(node: string): NodeUsage | undefined {
    const usage = this.nodes.get(node);
    if (usage === undefined || this.now() - Date.parse(usage.time) > USAGE_STALE_MS)
      return undefined;
    return usage;
  }
}

export class RecentEvents {
  private readonly events: HamiEvent[] = [];
  private readonly keep: number;

  constructor(keep = 50) {
    this.keep = keep;
  }

  add(event: HamiEvent): void {
    this.events.push(event);
    if (this.events.length > this.keep) this.events.shift();
  }

  /** Newest first. */
  list(): HamiEvent[] {
    return [...this.events].reverse();
  }
}
