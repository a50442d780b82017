// Live node usage on NATS: each node agent's monitor publishes its latest sample on
// hami.usage.<node> into the HAMI_USAGE stream, which keeps only the last one per node (a few
// minutes at most, in memory): a reader (the scheduler's page and metrics, `hami status`) gets every
// node's current figures at once and then each new sample. Not audit history: that is HAMI_EVENTS.

import { setTimeout as sleep } from "node:timers/promises";
import type { ConsumerMessages, JsMsg, NatsConnection } from "nats";
import { z } from "zod";
import { DNS_LABEL_PATTERN, POD_UID_PATTERN, type NodeUsage } from "../core/index.js";
import type { Logger } from "../telemetry/index.js";
import { subjectToken } from "./subjects.js";

export const USAGE_STREAM = "HAMI_USAGE";
export const USAGE_PREFIX = "hami.usage";
/** A sample older than this is dropped from the stream (the node stopped publishing). */
export const USAGE_MAX_AGE_MS = 5 * 60_000;
const NS_PER_MS = 1_000_000;

const bytes = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const count = z.number().int().nonnegative().max(1_000_000);
const dnsLabel = z.string().max(63).regex(DNS_LABEL_PATTERN, "must be a DNS-1123 label");
const nodeName = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "must be a DNS-1123 subdomain");
const gpuUuid = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,127}$/, "must be a GPU UUID");
const printable = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[\x20-\x7e]*$/, "must be printable ASCII");

/** A node's sample as published; every field bounded (it comes from the network). */
export const nodeUsageSchema = z.strictObject({
  node: nodeName,
  time: z.iso.datetime(),
  orphans: count,
  gpus: z
    .array(
      z.strictObject({
        uuid: gpuUuid,
        index: z.number().int().min(0).max(1023),
        type: printable(128),
        utilization: z.number().min(0).max(100).optional(),
        memoryUsedBytes: bytes.optional(),
        memoryTotalBytes: bytes.optional(),
        temperatureC: z.number().min(-100).max(300).optional(),
        powerW: z.number().min(0).max(100_000).optional(),
        trackedBytes: bytes,
        untrackedBytes: bytes.optional(),
        containers: count,
      }),
    )
    .max(64),
  containers: z
    .array(
      z.strictObject({
        namespace: dnsLabel,
        pod: nodeName,
        podUID: z.string().regex(POD_UID_PATTERN, "must be a UUID"),
        container: dnsLabel,
        processes: count,
        lastKernelAgeSeconds: count.optional(),
        devices: z
          .array(
            z.strictObject({
              index: z.number().int().min(0).max(15),
              uuid: printable(95),
              usedBytes: bytes,
              limitBytes: bytes,
              contextBytes: bytes,
              moduleBytes: bytes,
              bufferBytes: bytes,
              smUtil: count,
              smLimit: count,
            }),
          )
          .max(16),
      }),
    )
    .max(1024),
}) satisfies z.ZodType<NodeUsage>;

export function usageSubject(node: string): string {
  return `${USAGE_PREFIX}.${subjectToken(node)}`;
}

/** A sample as read from the wire, or why it is refused (also a node publishing as another). */
export function readUsage(
  data: unknown,
  subject: string,
): { usage: NodeUsage } | { problem: string } {
  const parsed = nodeUsageSchema.safeParse(data);
  if (!parsed.success) return { problem: parsed.error.message };
  if (usageSubject(parsed.data.node) !== subject)
    return { problem: `sample of node ${parsed.data.node} on ${subject}` };
  return { usage: parsed.data };
}

export interface UsageWatch {
  /** Resolves once every node's current sample has been handed over. */
  readonly caughtUp: Promise<void>;
  stop(): Promise<void>;
}

export interface UsageBoard {
  /** Sends the node's latest sample; never throws, never waits (a lost sample is replaced by the
   * next one). */
  publish(usage: NodeUsage): void;
  watch(handler: (usage: NodeUsage) => void, onInvalid?: (problem: string) => void): UsageWatch;
}

/** In one process (tests): the same contract without NATS. */
export class MemoryUsageBoard implements UsageBoard {
  readonly #latest = new Map<string, NodeUsage>();
  readonly #watchers = new Set<(usage: NodeUsage) => void>();

  publish(usage: NodeUsage): void {
    const parsed = nodeUsageSchema.safeParse(usage);
    if (!parsed.success) return;
    this.#latest.set(parsed.data.node, parsed.data);
    for (const watcher of this.#watchers) watcher(parsed.data);
  }

  watch(handler: (usage: NodeUsage) => void): UsageWatch {
    for (const usage of this.#latest.values()) handler(usage);
    this.#watchers.add(handler);
    return {
      caughtUp: Promise.resolve(),
      stop: () => {
        this.#watchers.delete(handler);
        return Promise.resolve();
      },
    };
  }
}

async function ensureUsageStream(nc: NatsConnection): Promise<void> {
  const { StorageType } = await import("nats");
  const jsm = await nc.jetstreamManager();
  const config = {
    subjects: [`${USAGE_PREFIX}.>`],
    max_msgs_per_subject: 1,
    max_age: USAGE_MAX_AGE_MS * NS_PER_MS,
  };
  const existing = await jsm.streams.info(USAGE_STREAM).catch(() => undefined);
  if (existing) await jsm.streams.update(USAGE_STREAM, config);
  else await jsm.streams.add({ name: USAGE_STREAM, storage: StorageType.Memory, ...config });
}

const RETRY_MS = 2_000;

/** The board over a NATS connection (the bus's): publishes into HAMI_USAGE, watches it with an
 * ordered consumer from each node's last sample. */
export class NatsUsageBoard implements UsageBoard {
  readonly #connection: () => Promise<NatsConnection | undefined>;
  readonly #log: Logger;
  #streamReady: Promise<void> | undefined;
  /** The newest sample of each node not yet sent. */
  readonly #latest = new Map<string, NodeUsage>();
  #sending: Promise<void> | undefined;

  constructor(connection: () => Promise<NatsConnection | undefined>, log: Logger) {
    this.#connection = connection;
    this.#log = log.child({ component: "usage-board" });
  }

  publish(usage: NodeUsage): void {
    const parsed = nodeUsageSchema.safeParse(usage);
    if (!parsed.success) {
      this.#log.error({ node: usage.node, problem: parsed.error.message }, "usage not published");
      return;
    }
    // Only each node's newest sample waits: while NATS is unreachable samples replace each other,
    // they never pile up.
    this.#latest.set(parsed.data.node, parsed.data);
    if (this.#sending !== undefined) return;
    this.#sending = this.#drain().finally(() => {
      this.#sending = undefined;
    });
  }

  async #drain(): Promise<void> {
    const nc = await this.#connection();
    for (const [node, next] of this.#latest) {
      this.#latest.delete(node);
      if (nc === undefined || nc.isClosed()) return;
      try {
        this.#streamReady ??= ensureUsageStream(nc);
        await this.#streamReady;
        nc.publish(usageSubject(next.node), JSON.stringify(next));
      } catch (error) {
        this.#streamReady = undefined;
        this.#log.warn({ err: error, node: next.node }, "usage sample not published");
      }
    }
  }

  watch(handler: (usage: NodeUsage) => void, onInvalid?: (problem: string) => void): UsageWatch {
    return new NatsUsageWatch(this.#connection, this.#log, handler, onInvalid);
  }
}

function decodeUsage(message: JsMsg): { usage: NodeUsage } | { problem: string } {
  let data: unknown;
  try {
    data = message.json();
  } catch {
    return { problem: `not JSON on ${message.subject}` };
  }
  return readUsage(data, message.subject);
}

/** An ordered consumer from each node's last sample, re-created after a failure until stopped. */
class NatsUsageWatch implements UsageWatch {
  readonly caughtUp: Promise<void>;
  #markCaughtUp: () => void = () => undefined;
  readonly #abort = new AbortController();
  #messages: ConsumerMessages | undefined;
  readonly #running: Promise<void>;
  private readonly log: Logger;
  private readonly handler: (usage: NodeUsage) => void;
  private readonly onInvalid: ((problem: string) => void) | undefined;

  constructor(
    connection: () => Promise<NatsConnection | undefined>,
    log: Logger,
    handler: (usage: NodeUsage) => void,
    onInvalid?: (problem: string) => void,
  ) {
    this.log = log;
    this.handler = handler;
    this.onInvalid = onInvalid;
    this.caughtUp = new Promise((resolve) => {
      this.#markCaughtUp = resolve;
    });
    this.#running = this.#run(connection);
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    this.#messages?.stop();
    await this.#running;
  }

  #stopped(): boolean {
    return this.#abort.signal.aborted;
  }

  async #run(connection: () => Promise<NatsConnection | undefined>): Promise<void> {
    const nc = await connection();
    while (nc !== undefined && !this.#stopped() && !nc.isClosed()) {
      try {
        await this.#consume(nc);
      } catch (error) {
        if (this.#stopped()) break;
        this.log.warn({ err: error, retryInMs: RETRY_MS }, "usage watch failed, restarting");
        await sleep(RETRY_MS, undefined, { signal: this.#abort.signal }).catch(() => undefined);
      }
    }
  }

  async #consume(nc: NatsConnection): Promise<void> {
    const { DeliverPolicy } = await import("nats");
    await ensureUsageStream(nc);
    const stream = await (await nc.jetstreamManager()).streams.info(USAGE_STREAM);
    if (stream.state.messages === 0) this.#markCaughtUp();
    const consumer = await nc.jetstream().consumers.get(USAGE_STREAM, {
      filterSubjects: [`${USAGE_PREFIX}.>`],
      deliver_policy: DeliverPolicy.LastPerSubject,
    });
    this.#messages = await consumer.consume();
    if (this.#stopped()) this.#messages.stop();
    for await (const message of this.#messages) {
      const read = decodeUsage(message);
      if ("usage" in read) this.handler(read.usage);
      else this.onInvalid?.(read.problem);
      if (message.info.pending === 0) this.#markCaughtUp();
    }
  }
}
