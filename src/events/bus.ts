// The EventBus seam: components publish facts and consume them without knowing whether NATS is
// there. publish() never throws and never waits, so a slow or absent bus can never delay an
// admission or a bind. Consumers get each valid event once, in stream order; invalid messages are
// reported and acknowledged away so they never block a consumer.

import type { HamiEvent } from "./schema.js";

export const DEFAULT_BUFFER = 10_000; // events held while the bus is unreachable
export const MAX_DELIVER = 5; // attempts per event before a failing handler gives up on it

export type StartAt = { kind: "all" } | { kind: "new" } | { kind: "time"; time: Date };

export interface Delivery {
  /** Position in the stream (JetStream sequence; 1-based in the memory bus too). */
  seq: number;
  subject: string;
}

export interface ConsumeOptions {
  /** Subject below `hami.events.`, NATS wildcards allowed: "allocation.node-1", "*.*", ">". */
  filter: string;
  /** A durable consumer resumes after the last acknowledged event, also across restarts. */
  durable?: string;
  /** Where a consumer without a durable position starts (default: all history). */
  start?: StartAt;
  /** Called once per event; a throw redelivers it (at most MAX_DELIVER attempts in all). */
  handler: (event: HamiEvent, delivery: Delivery) => void | Promise<void>;
  /** Called for a message that is not a valid event; it is acknowledged and skipped. */
  onInvalid?: (problem: string, delivery: Delivery) => void;
}

export interface Subscription {
  /** Resolves once every event that existed when consumption began has been handled. */
  readonly caughtUp: Promise<void>;
  stop(): Promise<void>;
}

export interface EventBus {
  /** Queues an event for delivery; invalid or overflowing events are counted and logged, not thrown. */
  publish(event: HamiEvent): void;
  consume(options: ConsumeOptions): Subscription;
  /** Delivers what is queued (within the timeout), stops consumers, releases connections. */
  close(timeoutMs?: number): Promise<void>;
}
