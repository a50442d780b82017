// In-memory bus: single-process mode and tests. Same contract as the NATS bus: validation on
// publish, bounded history, subject filters with NATS wildcards, durable positions, in-order
// delivery with bounded redelivery on handler failure.

import { DEFAULT_BUFFER, MAX_DELIVER } from "./bus.js";
import type { ConsumeOptions, EventBus, StartAt, Subscription } from "./bus.js";
import { hamiEventSchema, type HamiEvent } from "./schema.js";
import { filterSubject, subjectFor, subjectMatches } from "./subjects.js";

export interface MemoryBusOptions {
  maxEvents?: number;
  onInvalid?: (problem: string) => void;
  /** Called when a handler failed MAX_DELIVER times and the event is skipped. */
  onGiveUp?: (event: HamiEvent, error: unknown) => void;
  /** When an event is stored (start-by-time uses it, as JetStream uses its receive time). */
  clock?: () => number;
}

interface Entry {
  seq: number;
  subject: string;
  event: HamiEvent;
  storedAt: number;
}

class MemorySubscription implements Subscription {
  readonly caughtUp: Promise<void>;
  #markCaughtUp: () => void = () => undefined;
  #next: number;
  #stopped = false;
  #pumping: Promise<void> | undefined;
  readonly #bus: MemoryBus;
  readonly #options: ConsumeOptions;
  readonly #pattern: string;
  readonly #target: number;

  constructor(bus: MemoryBus, options: ConsumeOptions, first: number) {
    this.#bus = bus;
    this.#options = options;
    this.#pattern = filterSubject(options.filter);
    this.#next = first;
    this.#target = bus.lastSeq;
    this.caughtUp = new Promise((resolve) => {
      this.#markCaughtUp = resolve;
    });
    if (this.#next > this.#target) this.#markCaughtUp();
  }

  notify(): void {
    this.#pumping ??= this.#pump().finally(() => {
      this.#pumping = undefined;
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#pumping;
    this.#bus.unsubscribe(this);
  }

  async #deliver(entry: Entry): Promise<void> {
    const delivery = { seq: entry.seq, subject: entry.subject };
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#options.handler(entry.event, delivery);
        return;
      } catch (error) {
        if (attempt >= MAX_DELIVER) {
          this.#bus.gaveUp(entry.event, error);
          return;
        }
      }
    }
  }

  async #pump(): Promise<void> {
    for (;;) {
      const entry = this.#bus.entryFrom(this.#next);
      if (entry === undefined || this.#stopped) return;
      this.#next = entry.seq + 1;
      if (subjectMatches(this.#pattern, entry.subject)) await this.#deliver(entry);
      if (this.#options.durable !== undefined)
        this.#bus.savePosition(this.#options.durable, entry.seq);
      if (entry.seq >= this.#target) this.#markCaughtUp();
    }
  }
}

export class MemoryBus implements EventBus {
  readonly #entries: Entry[] = [];
  readonly #subscriptions = new Set<MemorySubscription>();
  readonly #positions = new Map<string, number>();
  readonly #ids = new Set<string>();
  readonly #options: MemoryBusOptions;
  #lastSeq = 0;

  constructor(options: MemoryBusOptions = {}) {
    this.#options = options;
  }

  get lastSeq(): number {
    return this.#lastSeq;
  }

  publish(event: HamiEvent): void {
    const parsed = hamiEventSchema.safeParse(event);
    if (!parsed.success) {
      this.#options.onInvalid?.(parsed.error.message);
      return;
    }
    // Like JetStream's duplicate window: an id already kept is stored once.
    if (this.#ids.has(parsed.data.id)) return;
    if (this.#entries.length >= (this.#options.maxEvents ?? DEFAULT_BUFFER)) {
      const dropped = this.#entries.shift();
      if (dropped) this.#ids.delete(dropped.event.id);
    }
    this.#lastSeq += 1;
    const storedAt = (this.#options.clock ?? Date.now)();
    const subject = subjectFor(parsed.data);
    this.#entries.push({ seq: this.#lastSeq, subject, event: parsed.data, storedAt });
    this.#ids.add(parsed.data.id);
    for (const subscription of this.#subscriptions) subscription.notify();
  }

  /** Events kept so far, oldest first (a copy). */
  history(): HamiEvent[] {
    return this.#entries.map((entry) => entry.event);
  }

  consume(options: ConsumeOptions): Subscription {
    const saved = options.durable === undefined ? undefined : this.#positions.get(options.durable);
    const first =
      saved === undefined ? this.#startSeq(options.start ?? { kind: "all" }) : saved + 1;
    const subscription = new MemorySubscription(this, options, first);
    this.#subscriptions.add(subscription);
    subscription.notify();
    return subscription;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#subscriptions].map((subscription) => subscription.stop()));
  }

  /** The first kept entry with seq >= the given one. */
  entryFrom(seq: number): Entry | undefined {
    const first = this.#entries[0]?.seq ?? this.#lastSeq + 1;
    return this.#entries[Math.max(seq, first) - first];
  }

  savePosition(durable: string, seq: number): void {
    this.#positions.set(durable, seq);
  }

  gaveUp(event: HamiEvent, error: unknown): void {
    this.#options.onGiveUp?.(event, error);
  }

  unsubscribe(subscription: MemorySubscription): void {
    this.#subscriptions.delete(subscription);
  }

  #startSeq(start: StartAt): number {
    if (start.kind === "all") return 1;
    if (start.kind === "new") return this.#lastSeq + 1;
    const since = start.time.getTime();
    const found = this.#entries.find((entry) => entry.storedAt >= since);
    return found?.seq ?? this.#lastSeq + 1;
  }
}
