// `hami webhook` as a process: startup errors, serving, config hot reload, events to a real
// nats-server, clean shutdown on SIGTERM.

import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect } from "nats";
import { ensureLocalCerts } from "../../src/certs/index.js";
import { STREAM_NAME } from "../../src/events/index.js";
import { runHami, spawnHami } from "../helpers/cli.js";
import { httpsJson } from "../helpers/https.js";
import { freePort, waitFor } from "../helpers/net.js";
import { startNats, type NatsServer } from "../helpers/nats-server.js";
import { pod, review } from "../helpers/pods.js";

describe("hami webhook - process", () => {
  let dir: string;
  let nats: NatsServer;
  let ca: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "hami-cli-"));
    await ensureLocalCerts({ dir, hosts: ["127.0.0.1", "localhost"], now: new Date() });
    ca = await import("node:fs/promises").then((fs) => fs.readFile(join(dir, "ca.crt"), "utf8"));
    nats = await startNats();
  });
  after(async () => {
    await nats.cleanup();
    await rm(dir, { recursive: true, force: true });
  });
  const tls = () => ["--tls-cert", join(dir, "tls.crt"), "--tls-key", join(dir, "tls.key")];

  it("a bad config value stops startup with exit 2, naming field and value", async () => {
    await writeFile(join(dir, "bad.yaml"), "nvidia:\n  defaultCores: 150\n");
    const run = await runHami([
      "webhook",
      ...tls(),
      "--config",
      join(dir, "bad.yaml"),
      "--port",
      "0",
    ]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /nvidia\.defaultCores=150: Too big/);
  });

  it("missing TLS flags and unknown flags are usage errors (exit 2)", async () => {
    assert.match((await runHami(["webhook"])).stderr, /--tls-cert and --tls-key are required/);
    const unknown = await runHami(["webhook", "--frobnicate"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /frobnicate/);
  });

  it("a port in use is a clear error", async () => {
    const blocker = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, "127.0.0.1", resolve));
    try {
      const run = await runHami([
        "webhook",
        ...tls(),
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
      ]);
      assert.equal(run.code, 2);
      assert.match(run.stderr, /EADDRINUSE.*another process listens there/);
    } finally {
      blocker.close();
    }
  });

  it("serves admissions, reloads its config, publishes to NATS, exits 0 on SIGTERM", async () => {
    const config = join(dir, "config.yaml");
    await writeFile(config, "nvidia:\n  defaultMemory: 0\n");
    const port = await freePort();
    const proc = spawnHami(
      ["webhook", ...tls(), "--host", "127.0.0.1", "--port", String(port), "--config", config],
      { NATS_URL: nats.url },
    );
    try {
      await waitFor(
        "webhook ready",
        async () =>
          (await httpsJson({ port, host: "localhost", path: "/readyz", ca })).status === 200,
      );
      const first = await httpsJson({
        port,
        host: "localhost",
        path: "/mutate",
        ca,
        body: review(pod(), "cli-1"),
      });
      assert.match(JSON.stringify(first.body), /gpumem-percentage=100/);
      await writeFile(config, "nvidia:\n  defaultMemory: 4096\n");
      await waitFor("config reloaded", async () => {
        const res = await httpsJson({
          port,
          host: "localhost",
          path: "/mutate",
          ca,
          body: review(pod(), "cli-2"),
        });
        return JSON.stringify(res.body).includes("nvidia.com/gpumem=4096 (defaultMemory)");
      });
      const nc = await connect({ servers: nats.url });
      try {
        const jsm = await nc.jetstreamManager();
        await waitFor(
          "admission events stored",
          async () => (await jsm.streams.info(STREAM_NAME)).state.messages >= 2,
        );
        const message = await jsm.streams.getMessage(STREAM_NAME, { seq: 1 });
        assert.equal(message.subject, "hami.events.admission.default");
      } finally {
        await nc.close();
      }
    } finally {
      proc.child.kill("SIGTERM");
    }
    const run = await proc.exited;
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /"msg":"webhook listening"/);
    assert.match(run.stdout, /"msg":"configuration reloaded"/);
    assert.match(run.stdout, /"msg":"shutting down"/);
  });
});
