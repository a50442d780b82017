// The EventBus seam: components publish facts without knowing whether NATS is there. publish()
// never throws and never waits, so a slow or absent bus can never delay an admission or a bind.

import type { HamiEvent } from "./schema.js";

export interface EventBus {
  /** Queues an event for delivery; invalid or overflowing events are counted and logged, not thrown. */
  publish(event: HamiEvent): void;
  /** Delivers what is queued (within the timeout) and releases connections. */
  close(timeoutMs?: number): Promise<void>;
}

export const DEFAULT_BUFFER = 10_000; // events held while the bus is unreachable
