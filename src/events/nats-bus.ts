// NATS JetStream bus. publish() only enqueues; one pump delivers the queue in order with the
// event id as Nats-Msg-Id (so a retry after a lost PubAck is stored once). While NATS is
// unreachable the queue holds up to maxBuffer events; beyond that new events are dropped and counted.

import { setTimeout as sleep } from "node:timers/promises";
import type { JetStreamClient, NatsConnection } from "nats";
import type { Logger } from "../telemetry/index.js";
import { DEFAULT_BUFFER, type EventBus } from "./bus.js";
import { hamiEventSchema, subjectFor, SUBJECT_PREFIX, type HamiEvent } from "./schema.js";

export const STREAM_NAME = "HAMI_EVENTS";
export const DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000; // 7 days
export const DUPLICATE_WINDOW_MS = 2 * 60 * 1000; // 2 minutes
const NS_PER_MS = 1_000_000; // JetStream durations are nanoseconds
const PUBLISH_TIMEOUT_MS = 5_000;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5_000;

export interface NatsBusOptions {
  servers: string;
  log: Logger;
  maxBuffer?: number;
  retentionMs?: number;
  /** Called once per dropped event (wire it to a metric). */
  onDrop?: () => void;
}

interface Pending {
  subject: string;
  data: Uint8Array;
  msgID: string;
}

export class NatsBus implements EventBus {
  readonly #options: NatsBusOptions;
  readonly #log: Logger;
  readonly #queue: Pending[] = [];
  readonly #abort = new AbortController();
  #nc: NatsConnection | undefined;
  #js: JetStreamClient | undefined;
  #streamReady = false;
  #pumping: Promise<void> | undefined;
  #connecting: Promise<void> | undefined;
  #dropped = 0;

  private constructor(options: NatsBusOptions) {
    this.#options = options;
    this.#log = options.log.child({ component: "nats-bus" });
  }

  /** Returns at once; connects in the background and retries with backoff until closed. */
  static start(options: NatsBusOptions): NatsBus {
    const bus = new NatsBus(options);
    bus.#connecting = bus.#connectLoop().catch((error: unknown) => {
      bus.#log.error({ err: error }, "nats connect loop stopped");
    });
    return bus;
  }

  get queued(): number {
    return this.#queue.length;
  }

  get dropped(): number {
    return this.#dropped;
  }

  publish(event: HamiEvent): void {
    const parsed = hamiEventSchema.safeParse(event);
    if (!parsed.success) {
      this.#log.error({ event, problem: parsed.error.message }, "invalid event not published");
      return;
    }
    if (this.#queue.length >= (this.#options.maxBuffer ?? DEFAULT_BUFFER)) {
      this.#dropped += 1;
      this.#options.onDrop?.();
      this.#log.warn(
        { eventId: event.id, type: event.type, dropped: this.#dropped },
        "event buffer full, event dropped",
      );
      return;
    }
    const data = new TextEncoder().encode(JSON.stringify(parsed.data));
    this.#queue.push({ subject: subjectFor(parsed.data), data, msgID: parsed.data.id });
    this.#kick();
  }

  async close(timeoutMs = 2_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#queue.length > 0 && Date.now() < deadline) {
      await sleep(10);
    }
    if (this.#queue.length > 0)
      this.#log.warn({ queued: this.#queue.length }, "closing with undelivered events");
    this.#abort.abort();
    await this.#connecting;
    await this.#pumping;
    await this.#nc?.drain().catch(() => undefined);
  }

  #kick(): void {
    if (this.#pumping !== undefined || this.#js === undefined) return;
    this.#pumping = this.#pump().finally(() => {
      this.#pumping = undefined;
      if (this.#queue.length > 0 && !this.#abort.signal.aborted) this.#kick();
    });
  }

  async #connectLoop(): Promise<void> {
    let backoff = BACKOFF_MIN_MS;
    while (!this.#abort.signal.aborted) {
      try {
        // Loaded on first use: processes that run without NATS do not pay its start-up cost.
        const { connect } = await import("nats");
        const nc: NatsConnection = await connect({
          servers: this.#options.servers,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 500,
          timeout: 5_000,
          name: "hami",
        });
        this.#nc = nc;
        this.#js = nc.jetstream();
        this.#log.info({ server: nc.getServer() }, "connected to nats");
        this.#kick();
        return;
      } catch (error) {
        this.#log.warn({ err: error, retryInMs: backoff }, "nats unreachable, events are buffered");
        await sleep(backoff, undefined, { signal: this.#abort.signal }).catch(() => undefined);
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      }
    }
  }

  async #ensureStream(nc: NatsConnection): Promise<void> {
    const jsm = await nc.jetstreamManager();
    const config = {
      subjects: [`${SUBJECT_PREFIX}.>`],
      max_age: (this.#options.retentionMs ?? DEFAULT_RETENTION_MS) * NS_PER_MS,
      duplicate_window: DUPLICATE_WINDOW_MS * NS_PER_MS,
    };
    const existing = await jsm.streams.info(STREAM_NAME).catch(() => undefined);
    if (existing) await jsm.streams.update(STREAM_NAME, config);
    else await jsm.streams.add({ name: STREAM_NAME, ...config });
    this.#streamReady = true;
  }

  async #pump(): Promise<void> {
    let backoff = BACKOFF_MIN_MS;
    while (this.#queue.length > 0 && !this.#abort.signal.aborted) {
      const next = this.#queue[0];
      const js = this.#js;
      const nc = this.#nc;
      if (next === undefined || js === undefined || nc === undefined) return;
      try {
        if (!this.#streamReady) await this.#ensureStream(nc);
        await js.publish(next.subject, next.data, {
          msgID: next.msgID,
          timeout: PUBLISH_TIMEOUT_MS,
        });
        this.#queue.shift();
        backoff = BACKOFF_MIN_MS;
      } catch (error) {
        this.#streamReady = false;
        this.#log.warn(
          { err: error, queued: this.#queue.length, retryInMs: backoff },
          "event publish failed, will retry",
        );
        await sleep(backoff, undefined, { signal: this.#abort.signal }).catch(() => undefined);
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      }
    }
  }
}
