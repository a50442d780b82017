// A JetStream consumer behind the Subscription interface: explicit acks, bounded redelivery
// (max_deliver), invalid messages acknowledged away, duplicates (redeliveries after a reconnect)
// dropped by stream sequence so the application sees each event once, in order.

import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type * as nats from "nats";
import type { ConsumerConfig, ConsumerInfo, ConsumerMessages, JsMsg, NatsConnection } from "nats";
import type { Logger } from "../telemetry/index.js";
import { MAX_DELIVER, type ConsumeOptions, type StartAt, type Subscription } from "./bus.js";
import { ensureStream, STREAM_NAME } from "./nats-stream.js";
import { hamiEventSchema, type HamiEvent } from "./schema.js";
import { filterSubject } from "./subjects.js";

const ACK_WAIT_MS = 30_000;
const EPHEMERAL_IDLE_MS = 5 * 60_000;
const NAK_DELAY_MS = 1_000;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5_000;
const NS_PER_MS = 1_000_000;
const HANDLED_MEMORY = 10_000; // sequences remembered to drop redelivered duplicates

type NatsModule = typeof nats;

function deliverPolicy(nats: NatsModule, start: StartAt): Partial<ConsumerConfig> {
  switch (start.kind) {
    case "all":
      return { deliver_policy: nats.DeliverPolicy.All };
    case "new":
      return { deliver_policy: nats.DeliverPolicy.New };
    case "time":
      return {
        deliver_policy: nats.DeliverPolicy.StartTime,
        opt_start_time: start.time.toISOString(),
      };
  }
}

function decode(message: JsMsg): { event: HamiEvent } | { problem: string } {
  let data: unknown;
  try {
    data = message.json();
  } catch {
    return { problem: "not JSON" };
  }
  const parsed = hamiEventSchema.safeParse(data);
  return parsed.success ? { event: parsed.data } : { problem: parsed.error.message };
}

export interface NatsSubscriptionDeps {
  connection: () => Promise<NatsConnection | undefined>;
  log: Logger;
  retentionMs?: number;
}

export class NatsSubscription implements Subscription {
  readonly caughtUp: Promise<void>;
  #markCaughtUp: () => void = () => undefined;
  readonly #options: ConsumeOptions;
  readonly #deps: NatsSubscriptionDeps;
  readonly #name: string;
  readonly #log: Logger;
  #messages: ConsumerMessages | undefined;
  #stopped = false;
  /** Recently handled stream sequences: a redelivery of one of these is a duplicate. */
  readonly #handled = new Set<number>();
  readonly #running: Promise<void>;

  constructor(options: ConsumeOptions, deps: NatsSubscriptionDeps) {
    this.#options = options;
    this.#deps = deps;
    this.#name = options.durable ?? `hami-${randomUUID()}`;
    this.#log = deps.log.child({ consumer: this.#name, filter: options.filter });
    this.caughtUp = new Promise((resolve) => {
      this.#markCaughtUp = resolve;
    });
    this.#running = this.#run();
  }

  /** A method, not the field: stop() flips it while #run awaits, which flow analysis cannot see. */
  #isStopped(): boolean {
    return this.#stopped;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    // stop(), not close(): close() waits for the iterator to drain, which the loop may not yet run.
    this.#messages?.stop();
    await this.#running;
  }

  async #open(nc: NatsConnection): Promise<ConsumerInfo> {
    const jsm = await nc.jetstreamManager();
    if (this.#options.durable !== undefined) {
      const existing = await jsm.consumers.info(STREAM_NAME, this.#name).catch(() => undefined);
      if (existing) return existing;
    }
    const nats = await import("nats");
    const config: Partial<ConsumerConfig> = {
      ...deliverPolicy(nats, this.#options.start ?? { kind: "all" }),
      ack_policy: nats.AckPolicy.Explicit,
      ack_wait: ACK_WAIT_MS * NS_PER_MS,
      max_deliver: MAX_DELIVER,
      filter_subject: filterSubject(this.#options.filter),
    };
    if (this.#options.durable !== undefined) config.durable_name = this.#name;
    else
      Object.assign(config, {
        name: this.#name,
        inactive_threshold: EPHEMERAL_IDLE_MS * NS_PER_MS,
      });
    return jsm.consumers.add(STREAM_NAME, config);
  }

  async #run(): Promise<void> {
    const nc = await this.#deps.connection();
    let backoff = BACKOFF_MIN_MS;
    while (nc !== undefined && !this.#stopped) {
      try {
        await ensureStream(nc, this.#deps.retentionMs);
        const info = await this.#open(nc);
        if (info.num_pending + info.num_ack_pending === 0) this.#markCaughtUp();
        const consumer = await nc.jetstream().consumers.get(STREAM_NAME, this.#name);
        this.#messages = await consumer.consume({ max_messages: 256 });
        // stop() may have run while consume() was being set up: it could not close it then.
        if (this.#isStopped()) this.#messages.stop();
        for await (const message of this.#messages) {
          await this.#handle(message);
          backoff = BACKOFF_MIN_MS;
        }
      } catch (error) {
        if (this.#isStopped()) break;
        this.#log.warn({ err: error, retryInMs: backoff }, "event consumer failed, restarting");
        await sleep(backoff);
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      }
    }
    if (this.#options.durable === undefined) await this.#deleteEphemeral(nc);
  }

  async #deleteEphemeral(nc: NatsConnection | undefined): Promise<void> {
    if (nc === undefined || nc.isClosed()) return;
    const jsm = await nc.jetstreamManager().catch(() => undefined);
    await jsm?.consumers.delete(STREAM_NAME, this.#name).catch(() => undefined);
  }

  async #handle(message: JsMsg): Promise<void> {
    const delivery = { seq: message.seq, subject: message.subject };
    if (this.#handled.has(message.seq)) {
      message.ack();
      return;
    }
    const decoded = decode(message);
    if ("problem" in decoded) {
      this.#log.warn(
        { seq: message.seq, subject: message.subject, problem: decoded.problem },
        "invalid event acknowledged away",
      );
      this.#options.onInvalid?.(decoded.problem, delivery);
      this.#advance(message);
      return;
    }
    try {
      await this.#options.handler(decoded.event, delivery);
      this.#advance(message);
    } catch (error) {
      this.#fail(message, error);
    }
  }

  #advance(message: JsMsg): void {
    message.ack();
    this.#remember(message.seq);
    if (message.info.pending === 0) this.#markCaughtUp();
  }

  #remember(seq: number): void {
    this.#handled.add(seq);
    if (this.#handled.size > HANDLED_MEMORY) {
      const [oldest] = this.#handled;
      if (oldest !== undefined) this.#handled.delete(oldest);
    }
  }

  #fail(message: JsMsg, error: unknown): void {
    const attempt = message.info.deliveryCount;
    if (attempt >= MAX_DELIVER) {
      this.#log.error(
        { err: error, seq: message.seq, attempt },
        "event handler failed, giving up on the event",
      );
      message.term();
      this.#remember(message.seq);
      if (message.info.pending === 0) this.#markCaughtUp();
      return;
    }
    this.#log.warn({ err: error, seq: message.seq, attempt }, "event handler failed, redelivering");
    message.nak(NAK_DELAY_MS);
  }
}
