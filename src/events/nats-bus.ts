// NATS JetStream bus. publish() only enqueues; one pump delivers the queue in order with the
// event id as Nats-Msg-Id (so a retry after a lost PubAck is stored once). While NATS is
// unreachable the queue holds up to maxBuffer events; beyond that new events are dropped and counted.

import { setTimeout as sleep } from "node:timers/promises";
import type { ConnectionOptions, JetStreamClient, NatsConnection } from "nats";
import type { Logger } from "../telemetry/index.js";
import { DEFAULT_BUFFER, type ConsumeOptions, type EventBus, type Subscription } from "./bus.js";
import { NatsSubscription } from "./nats-consumer.js";
import { describeNats, natsConnectionOptions, type NatsSettings } from "./nats-options.js";
import { ensureStream } from "./nats-stream.js";
import { hamiEventSchema, type HamiEvent } from "./schema.js";
import { subjectFor } from "./subjects.js";
import { NatsUsageBoard } from "./usage.js";

const PUBLISH_TIMEOUT_MS = 5_000;
const CONNECT_TIMEOUT_MS = 5_000;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5_000;
const CLOSE_GRACE_MS = 1_500;

export interface NatsBusOptions {
  nats: NatsSettings;
  log: Logger;
  maxBuffer?: number;
  retentionMs?: number;
  /** Called once per dropped event (wire it to a metric). */
  onDrop?: () => void;
  /** Connect once in start() and throw when that fails (a one-shot CLI), instead of connecting in
   * the background with backoff (a component that buffers its events meanwhile). */
  failFast?: boolean;
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
  readonly #subscriptions = new Set<NatsSubscription>();
  #connected: Promise<NatsConnection | undefined> = Promise.resolve(undefined);
  #nc: NatsConnection | undefined;
  #js: JetStreamClient | undefined;
  #streamReady = false;
  #pumping: Promise<void> | undefined;
  #dropped = 0;

  private constructor(options: NatsBusOptions) {
    this.#options = options;
    this.#log = options.log.child({ component: "nats-bus", nats: describeNats(options.nats) });
  }

  /** Validates the settings, then returns; connects in the background with backoff until closed
   * (with failFast: connects first, and throws when it cannot). */
  static async start(options: NatsBusOptions): Promise<NatsBus> {
    const connectionOptions = await natsConnectionOptions(options.nats);
    const bus = new NatsBus(options);
    if (options.failFast === true) {
      const nc = await bus.#connectOnce(connectionOptions);
      bus.#connected = Promise.resolve(nc);
    } else bus.#connected = bus.#connectLoop(connectionOptions);
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

  /** Live node usage over this bus's connection (the HAMI_USAGE stream). */
  usageBoard(): NatsUsageBoard {
    return new NatsUsageBoard(() => this.#connected, this.#log);
  }

  consume(options: ConsumeOptions): Subscription {
    const subscription = new NatsSubscription(options, {
      connection: () => this.#connected,
      log: this.#log,
      retentionMs: this.#options.retentionMs,
    });
    this.#subscriptions.add(subscription);
    return {
      caughtUp: subscription.caughtUp,
      stop: async () => {
        this.#subscriptions.delete(subscription);
        await subscription.stop();
      },
    };
  }

  /** Waits up to `timeoutMs` for the queue to empty, then stops: consumers, the pump and the
   * connection, drained gracefully for at most CLOSE_GRACE_MS more. A server that stopped answering
   * (a publish, stream check or drain waiting on it) gets its connection closed then, so a
   * component's shutdown never outlasts its grace period. */
  async close(timeoutMs = 2_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#queue.length > 0 && Date.now() < deadline) {
      await sleep(10);
    }
    if (this.#queue.length > 0)
      this.#log.warn({ queued: this.#queue.length }, "closing with undelivered events");
    this.#abort.abort();
    const graceful = (async () => {
      await Promise.all([...this.#subscriptions].map((subscription) => subscription.stop()));
      await this.#connected;
      await this.#pumping;
      await this.#nc?.drain().catch(() => undefined);
      return true;
    })();
    const timer = sleep(CLOSE_GRACE_MS, false, { ref: false });
    if (await Promise.race([graceful, timer])) return;
    this.#log.warn(
      { graceMs: CLOSE_GRACE_MS },
      "nats did not answer while closing; connection closed",
    );
    await this.#nc?.close().catch(() => undefined);
  }

  #kick(): void {
    if (this.#pumping !== undefined || this.#js === undefined) return;
    this.#pumping = this.#pump().finally(() => {
      this.#pumping = undefined;
      if (this.#queue.length > 0 && !this.#abort.signal.aborted) this.#kick();
    });
  }

  async #connectOnce(options: ConnectionOptions): Promise<NatsConnection> {
    const { connect } = await import("nats");
    const nc = await connect({
      ...options,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      timeout: CONNECT_TIMEOUT_MS,
      name: "hami",
    });
    this.#nc = nc;
    this.#js = nc.jetstream();
    this.#log.info({ server: nc.getServer() }, "connected to nats");
    this.#kick();
    return nc;
  }

  async #connectLoop(options: ConnectionOptions): Promise<NatsConnection | undefined> {
    let backoff = BACKOFF_MIN_MS;
    while (!this.#abort.signal.aborted) {
      try {
        return await this.#connectOnce(options);
      } catch (error) {
        this.#log.warn({ err: error, retryInMs: backoff }, "nats unreachable, events are buffered");
        await sleep(backoff, undefined, { signal: this.#abort.signal }).catch(() => undefined);
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      }
    }
    return undefined;
  }

  async #pump(): Promise<void> {
    let backoff = BACKOFF_MIN_MS;
    while (this.#queue.length > 0 && !this.#abort.signal.aborted) {
      const next = this.#queue[0];
      const js = this.#js;
      const nc = this.#nc;
      if (next === undefined || js === undefined || nc === undefined) return;
      try {
        if (!this.#streamReady) await ensureStream(nc, this.#options.retentionMs);
        this.#streamReady = true;
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
