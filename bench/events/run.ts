// Event bus benchmark on a real nats-server (loopback): publish throughput and publish-to-consume
// latency of our JetStream bus (persisted, de-duplicated, acknowledged) next to core NATS
// publish/subscribe on the same server in the same run. Prints one JSON document.

import { connect, type NatsConnection } from "nats";
import { pino } from "pino";
import { NatsBus, type HamiEvent } from "../../src/events/index.js";
import { sampleEvent } from "../../test/helpers/bus-contract.js";
import { waitFor } from "../../test/helpers/net.js";
import { startNats } from "../../test/helpers/nats-server.js";

const THROUGHPUT_EVENTS = Number(process.env.BENCH_EVENTS ?? 5000);
const LATENCY_EVENTS = Number(process.env.BENCH_LATENCY_EVENTS ?? 1000);
const LATENCY_INTERVAL_MS = 2;
const log = pino({ level: "silent" });

function events(count: number, offset: number): HamiEvent[] {
  return Array.from({ length: count }, (_, i) => sampleEvent("allocation", offset + i, "node-a"));
}

function percentile(sorted: number[], p: number): number {
  return Number(
    (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0).toFixed(3),
  );
}

function latencySummary(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
  };
}

async function paced(count: number, send: (i: number) => void): Promise<void> {
  for (let i = 0; i < count; i++) {
    send(i);
    await new Promise((resolve) => setTimeout(resolve, LATENCY_INTERVAL_MS));
  }
}

async function jetstream(url: string) {
  const bus = await NatsBus.start({ nats: { url }, log });
  const batch = events(THROUGHPUT_EVENTS, 0);
  const started = performance.now();
  for (const event of batch) bus.publish(event);
  await waitFor("publish queue drained", () => bus.queued === 0, 120_000);
  const publishPerSec = THROUGHPUT_EVENTS / ((performance.now() - started) / 1000);
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const subscription = bus.consume({
    filter: "allocation.*",
    start: { kind: "new" },
    handler: (event) => {
      const sent = sentAt.get(event.id);
      if (sent !== undefined) latencies.push(performance.now() - sent);
    },
  });
  await new Promise((resolve) => setTimeout(resolve, 500));
  const paced_ = events(LATENCY_EVENTS, THROUGHPUT_EVENTS);
  await paced(LATENCY_EVENTS, (i) => {
    const event = paced_[i]!;
    sentAt.set(event.id, performance.now());
    bus.publish(event);
  });
  await waitFor("latency events consumed", () => latencies.length >= LATENCY_EVENTS, 60_000);
  await subscription.stop();
  await bus.close();
  return { publishPerSec: Math.round(publishPerSec), latency: latencySummary(latencies) };
}

async function core(nc: NatsConnection) {
  const payload = new TextEncoder().encode(JSON.stringify(sampleEvent("allocation", 1, "node-a")));
  const started = performance.now();
  for (let i = 0; i < THROUGHPUT_EVENTS; i++) nc.publish("bench.core", payload);
  await nc.flush();
  const publishPerSec = THROUGHPUT_EVENTS / ((performance.now() - started) / 1000);
  const latencies: number[] = [];
  const sentAt: number[] = [];
  const sub = nc.subscribe("bench.latency");
  const reading = (async () => {
    for await (const message of sub) {
      const index = Number(new TextDecoder().decode(message.data));
      latencies.push(performance.now() - (sentAt[index] ?? 0));
      if (latencies.length >= LATENCY_EVENTS) break;
    }
  })();
  await paced(LATENCY_EVENTS, (i) => {
    sentAt[i] = performance.now();
    nc.publish("bench.latency", new TextEncoder().encode(String(i)));
  });
  await reading;
  return { publishPerSec: Math.round(publishPerSec), latency: latencySummary(latencies) };
}

async function main(): Promise<void> {
  const server = await startNats();
  try {
    const js = await jetstream(server.url);
    const nc = await connect({ servers: server.url });
    const plain = await core(nc);
    await nc.close();
    const report = {
      benchmark: "events",
      server: "nats-server on loopback, JetStream file store",
      events: {
        throughput: THROUGHPUT_EVENTS,
        latency: LATENCY_EVENTS,
        latencyIntervalMs: LATENCY_INTERVAL_MS,
      },
      jetstream: {
        ...js,
        note: "NatsBus: one in-order publish at a time, each waiting for its PubAck (Nats-Msg-Id de-duplication); consumer with explicit acks",
      },
      coreNats: {
        ...plain,
        note: "fire-and-forget publish, plain subscription: no persistence, no acks",
      },
      ratios: {
        publishThroughput: Number((js.publishPerSec / plain.publishPerSec).toFixed(4)),
        latencyP50: Number((js.latency.p50Ms / plain.latency.p50Ms).toFixed(2)),
        latencyP99: Number((js.latency.p99Ms / plain.latency.p99Ms).toFixed(2)),
      },
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    await server.cleanup();
  }
}

await main();
