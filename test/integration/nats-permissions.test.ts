// NATS with per-component users and subject permissions, on a real nats-server: anonymous clients
// are refused, each role can do what its component does, and nothing else (a node agent cannot
// forge an allocation event, the scheduler cannot forge a release).

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect, type NatsConnection } from "nats";
import type { NodeUsage } from "../../src/core/index.js";
import {
  NatsBus,
  natsAuthorization,
  natsTls,
  STREAM_NAME,
  USAGE_STREAM,
  type HamiEvent,
  type NatsRole,
  type NatsUser,
} from "../../src/events/index.js";
import { generateCA, generateServing } from "../../src/certs/index.js";
import { createLogger } from "../../src/telemetry/index.js";
import { collect, sampleEvent } from "../helpers/bus-contract.js";
import { startNats, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../helpers/net.js";

const log = createLogger({ level: "silent" });

describe("nats permissions - one user per component role (real nats-server)", () => {
  let dir: string;
  let nats: NatsServer;
  const users: NatsUser[] = (["scheduler", "webhook", "node", "audit"] as const).map((role) => ({
    user: `hami-${role}`,
    password: randomUUID(),
    role,
  }));
  const as = (role: NatsRole) => {
    const u = users.find((candidate) => candidate.role === role)!;
    return { user: u.user, password: u.password };
  };
  const buses: NatsBus[] = [];
  const bus = async (role: NatsRole): Promise<NatsBus> => {
    const started = await NatsBus.start({ nats: { url: nats.url, ...as(role) }, log });
    buses.push(started);
    return started;
  };
  const raw = (role: NatsRole): Promise<NatsConnection> =>
    connect({ servers: nats.url, reconnect: false, user: as(role).user, pass: as(role).password });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "hami-nats-auth-"));
    const config = join(dir, "nats.conf");
    await writeFile(config, natsAuthorization(users));
    nats = await startNats({
      args: ["-c", config],
      probe: { ...as("audit"), pass: as("audit").password },
    });
  });

  after(async () => {
    for (const b of buses) await b.close();
    await nats?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it("a server whose readiness probe is refused is stopped, not left running", async () => {
    const config = join(dir, "nats.conf");
    const failed = await startNats({ args: ["-c", config], probe: { user: "x", pass: "y" } }).then(
      () => "started",
      (error: unknown) => String(error),
    );
    const port = /127\.0\.0\.1:(\d+)/.exec(failed)?.[1];
    assert.ok(port !== undefined, failed);
    const refused = await new Promise<string>((resolve) => {
      const socket = createConnection(Number(port), "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve("connected");
      });
      socket.once("error", (error: NodeJS.ErrnoException) => {
        resolve(error.code ?? "error");
      });
    });
    assert.equal(refused, "ECONNREFUSED", `nats-server still listening on ${port}`);
  });

  it("an anonymous client is refused", async () => {
    await assert.rejects(connect({ servers: nats.url, reconnect: false }), /Authorization/i);
  });

  it("the scheduler publishes allocations, the node agent reads its node's and reports back", async () => {
    const scheduler = await bus("scheduler");
    const node = await bus("node");
    const audit = await bus("audit");
    const allocation = sampleEvent("allocation", 1, "node-a");
    scheduler.publish(allocation);
    const seen: HamiEvent[] = [];
    const sub = node.consume({
      filter: "allocation.node-a",
      durable: "hami-node-node-a",
      start: { kind: "all" },
      handler: (event) => void seen.push(event),
    });
    await waitFor("the agent got its allocation", () => (seen.length > 0 ? true : undefined));
    await sub.stop();
    node.publish(sampleEvent("allocated", 2, "node-a"));
    const history = await collect(audit, 2, { filter: ">" });
    assert.deepEqual(
      history.map((e) => e.type),
      ["allocation", "allocated"],
    );
  });

  it("a node agent cannot forge an allocation, the scheduler cannot forge a release", async () => {
    const forge = async (role: NatsRole, subject: string): Promise<string> => {
      const nc = await raw(role);
      try {
        await nc.jetstream().publish(subject, new TextEncoder().encode("{}"), { timeout: 2000 });
        return "published";
      } catch (error) {
        return String(error);
      } finally {
        await nc.close();
      }
    };
    assert.notEqual(await forge("node", "hami.events.allocation.node-a"), "published");
    assert.notEqual(await forge("scheduler", "hami.events.released.node-a"), "published");
    assert.notEqual(await forge("audit", "hami.events.admission.team"), "published");
    assert.notEqual(await forge("webhook", "hami.events.allocation.node-a"), "published");
    const nc = await raw("audit");
    const info = await (await nc.jetstreamManager()).streams.info(STREAM_NAME);
    await nc.close();
    assert.equal(info.state.messages, 2, "only the two legitimate events are in the stream");
  });

  it("live usage: node agents publish the last sample per node, the scheduler and audit users read it, no one else writes it", async () => {
    const sample = (node: string, used: number): NodeUsage => ({
      node,
      time: new Date().toISOString(),
      orphans: 0,
      gpus: [{ uuid: "GPU-1", index: 0, type: "NVIDIA-T4", trackedBytes: used, containers: 0 }],
      containers: [],
    });
    const node = (await bus("node")).usageBoard();
    for (const used of [1, 2, 3]) node.publish(sample("node-a", used));
    node.publish(sample("node-b", 7));
    const nc = await raw("audit");
    await waitFor("two nodes' last samples kept", async () => {
      const info = await (
        await nc.jetstreamManager()
      ).streams
        .info(USAGE_STREAM)
        .catch(() => undefined);
      return info?.state.messages === 2 ? true : undefined;
    });
    for (const role of ["webhook", "scheduler", "audit"] as const) {
      const forger = await raw(role);
      forger.publish("hami.usage.node-a", JSON.stringify(sample("node-a", 666)));
      await forger.flush().catch(() => undefined);
      await forger.close();
    }
    const stored = new Map<string, number>();
    const before = (await bus("audit"))
      .usageBoard()
      .watch((u) => void stored.set(u.node, u.gpus[0]?.trackedBytes ?? -1));
    await before.caughtUp;
    await before.stop();
    assert.deepEqual(Object.fromEntries(stored), { "node-a": 3, "node-b": 7 }, "nothing forged");
    // A node agent may write only well-formed samples of the node its subject names.
    const wrong = await raw("node");
    wrong.publish("hami.usage.node-a", JSON.stringify(sample("node-b", 999)));
    wrong.publish("hami.usage.node-c", "not json");
    await wrong.flush();
    await wrong.close();
    for (const role of ["scheduler", "audit"] as const) {
      const seen = new Map<string, number>();
      const problems: string[] = [];
      const watch = (await bus(role)).usageBoard().watch(
        (u) => void seen.set(u.node, u.gpus[0]?.trackedBytes ?? -1),
        (problem) => void problems.push(problem),
      );
      await watch.caughtUp;
      await watch.stop();
      assert.deepEqual(Object.fromEntries(seen), { "node-b": 7 }, role);
      assert.equal(problems.length, 2, problems.join("; "));
      assert.match(problems.join("; "), /sample of node node-b on hami\.usage\.node-a/);
    }
    const info = await (await nc.jetstreamManager()).streams.info(USAGE_STREAM);
    await nc.close();
    assert.equal(info.config.max_msgs_per_subject, 1);
  });

  it("the standalone webhook publishes admission events and nothing else", async () => {
    const webhook = await bus("webhook");
    const audit = await bus("audit");
    webhook.publish(sampleEvent("admission", 3, "team"));
    const history = await collect(audit, 3, { filter: ">" });
    assert.deepEqual(
      history.map((e) => e.type),
      ["allocation", "allocated", "admission"],
    );
  });
});

describe("nats TLS - certgen's pair, clients trusting its CA (real nats-server)", () => {
  let dir: string;
  let nats: NatsServer;
  const now = new Date();
  const ca = generateCA({ commonName: "nats-tls-ca", now });
  const user: NatsUser = { user: "hami-audit", password: randomUUID(), role: "audit" };
  const scheduler: NatsUser = { user: "hami-scheduler", password: randomUUID(), role: "scheduler" };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "hami-nats-tls-"));
    const pair = generateServing(ca, { hosts: ["127.0.0.1", "localhost"], now });
    await writeFile(join(dir, "nats.crt"), pair.cert);
    await writeFile(join(dir, "nats.key"), pair.key, { mode: 0o600 });
    await writeFile(join(dir, "ca.crt"), ca.cert);
    const config = join(dir, "nats.conf");
    const tls = natsTls(join(dir, "nats.crt"), join(dir, "nats.key"));
    await writeFile(config, natsAuthorization([user, scheduler]) + tls);
    nats = await startNats({
      args: ["-c", config],
      probe: { user: user.user, pass: user.password, tls: { ca: ca.cert } },
    });
  });

  after(async () => {
    await nats?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  const login = { reconnect: false, user: user.user, pass: user.password };

  it("refuses a client without TLS, and a client that does not trust certgen's CA", async () => {
    await assert.rejects(connect({ servers: nats.url, ...login, tls: null }), /tls|secure/i);
    const other = generateCA({ commonName: "other", now });
    await assert.rejects(
      connect({ servers: nats.url, ...login, tls: { ca: other.cert } }),
      /certificate/i,
    );
    await assert.rejects(connect({ servers: nats.url, ...login }), /certificate/i);
  });

  it("components given NATS_TLS_CA (tlsCaFile) publish and read events over TLS", async () => {
    const tlsCaFile = join(dir, "ca.crt");
    const start = (who: NatsUser) =>
      NatsBus.start({
        nats: { url: nats.url, user: who.user, password: who.password, tlsCaFile },
        log,
      });
    const publisher = await start(scheduler);
    const reader = await start(user);
    try {
      publisher.publish(sampleEvent("allocation", 1, "node-a"));
      const history = await collect(reader, 1, { filter: ">" });
      assert.deepEqual(
        history.map((e) => e.type),
        ["allocation"],
      );
    } finally {
      await publisher.close();
      await reader.close();
    }
  });
});
