// In-memory bus: single-process mode and tests. Same contract as the NATS bus (validation, bounded
// buffer); subscribers are called synchronously in publish order.

import type { EventBus } from "./bus.js";
import { DEFAULT_BUFFER } from "./bus.js";
import { hamiEventSchema, type HamiEvent } from "./schema.js";

export type Subscriber = (event: HamiEvent) => void;

export interface MemoryBusOptions {
  maxEvents?: number;
  onInvalid?: (problem: string) => void;
}

export class MemoryBus implements EventBus {
  readonly #events: HamiEvent[] = [];
  readonly #subscribers = new Set<Subscriber>();
  readonly #maxEvents: number;
  readonly #onInvalid: (problem: string) => void;

  constructor(options: MemoryBusOptions = {}) {
    this.#maxEvents = options.maxEvents ?? DEFAULT_BUFFER;
    this.#onInvalid = options.onInvalid ?? (() => undefined);
  }

  publish(event: HamiEvent): void {
    const parsed = hamiEventSchema.safeParse(event);
    if (!parsed.success) {
      this.#onInvalid(parsed.error.message);
      return;
    }
    if (this.#events.length >= this.#maxEvents) this.#events.shift();
    this.#events.push(parsed.data);
    for (const subscriber of this.#subscribers) subscriber(parsed.data);
  }

  /** Events kept so far, oldest first (a copy). */
  history(): HamiEvent[] {
    return [...this.#events];
  }

  subscribe(subscriber: Subscriber): () => void {
    this.#subscribers.add(subscriber);
    return () => this.#subscribers.delete(subscriber);
  }

  close(): Promise<void> {
    this.#subscribers.clear();
    return Promise.resolve();
  }
}
