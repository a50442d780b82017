// `hami events` against a real nats-server holding a recorded history; and the NATS connection
// settings (user/password, token, nkey, TLS) against servers that require them.

import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { nkeyAuthenticator, nkeys } from "nats";
import { pino } from "pino";
import { ensureLocalCerts } from "../../src/certs/index.js";
import { NatsBus, type HamiEvent, type NatsSettings } from "../../src/events/index.js";
import { collect, sampleEvent } from "../helpers/bus-contract.js";
import { runHami, spawnHami } from "../helpers/cli.js";
import { waitFor } from "../helpers/net.js";
import { startNats, type NatsServer } from "../helpers/nats-server.js";

const log = pino({ level: "silent" });

async function publishAll(settings: NatsSettings, events: HamiEvent[]): Promise<void> {
  const bus = await NatsBus.start({ nats: settings, log });
  for (const event of events) bus.publish(event);
  await bus.close(10_000);
  assert.equal(bus.queued, 0);
}

function jsonLines(stdout: string): HamiEvent[] {
  return stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as HamiEvent);
}

describe("hami events - recorded history", () => {
  let server: NatsServer;
  let cutoff = "";
  const early = [
    sampleEvent("admission", 1, "team-a"),
    sampleEvent("allocation", 2, "gpu-1"),
    sampleEvent("allocated", 3, "gpu-1"),
  ];
  const late = [
    sampleEvent("allocation", 4, "gpu-2"),
    sampleEvent("released", 5, "gpu-1"),
    sampleEvent("admission", 6, "team-b"),
  ];

  before(async () => {
    server = await startNats();
    await publishAll({ url: server.url }, early);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    cutoff = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await publishAll({ url: server.url }, late);
  });
  after(async () => {
    await server.cleanup();
  });

  const cases: { name: string; args: (string | (() => string))[]; pods: string[] }[] = [
    { name: "everything", args: [], pods: ["pod-1", "pod-2", "pod-3", "pod-4", "pod-5", "pod-6"] },
    { name: "--type allocation", args: ["--type", "allocation"], pods: ["pod-2", "pod-4"] },
    { name: "--node gpu-1", args: ["--node", "gpu-1"], pods: ["pod-2", "pod-3", "pod-5"] },
    { name: "--namespace team-b", args: ["--namespace", "team-b"], pods: ["pod-6"] },
    { name: "--pod ns/pod-3", args: ["--pod", "ns/pod-3"], pods: ["pod-3"] },
    {
      name: "--type admission --namespace team-a",
      args: ["--type", "admission", "--namespace", "team-a"],
      pods: ["pod-1"],
    },
    { name: "--since TIME", args: ["--since", () => cutoff], pods: ["pod-4", "pod-5", "pod-6"] },
    {
      name: "--since 1h",
      args: ["--since", "1h"],
      pods: ["pod-1", "pod-2", "pod-3", "pod-4", "pod-5", "pod-6"],
    },
    { name: "--node nowhere", args: ["--node", "nowhere"], pods: [] },
  ];
  for (const testCase of cases) {
    it(`${testCase.name} prints the matching history and exits`, async () => {
      const args = testCase.args.map((arg) => (typeof arg === "string" ? arg : arg()));
      const run = await runHami(["events", "--json", "--nats", server.url, ...args]);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(
        jsonLines(run.stdout).map((e) => e.pod.name),
        testCase.pods,
      );
    });
  }

  it("prints a table by default", async () => {
    const run = await runHami(["events", "--type", "allocated"], { NATS_URL: server.url });
    const lines = run.stdout.trim().split("\n");
    assert.match(lines[0] ?? "", /^TIME +TYPE +POD +NODE +DEVICES +REASON$/);
    assert.match(lines[1] ?? "", /allocated +ns\/pod-3 +gpu-1 +main:GPU-1\(1024MiB,30%\)/);
    assert.equal(lines.length, 2);
  });

  it("--follow tails new events until interrupted", async () => {
    const proc = spawnHami([
      "events",
      "--follow",
      "--json",
      "--type",
      "node",
      "--nats",
      server.url,
    ]);
    try {
      // Only events published after the consumer exists are followed: wait until it says so.
      await waitFor(
        "the follower subscribed",
        () => proc.output().stderr.includes("following new events"),
        30_000,
      );
      await publishAll({ url: server.url }, [
        sampleEvent("node", 7, "gpu-9"),
        sampleEvent("released", 8, "gpu-9"),
        sampleEvent("node", 9, "gpu-9"),
      ]);
      await waitFor("followed events", () => jsonLines(proc.output().stdout).length >= 2);
    } finally {
      proc.child.kill("SIGINT");
    }
    const run = await proc.exited;
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(
      jsonLines(run.stdout).map((e) => e.pod.name),
      ["pod-7", "pod-9"],
    );
  });

  it("bad flags are clear errors", async () => {
    const badType = await runHami(["events", "--nats", server.url, "--type", "bogus"]);
    assert.equal(badType.code, 2);
    assert.match(
      badType.stderr,
      /--type=bogus: must be one of admission, allocation, allocated, released, node/,
    );
    const noNats = await runHami(["events"], { NATS_URL: "" });
    assert.equal(noNats.code, 2);
    assert.match(noNats.stderr, /needs NATS/);
  });
});

describe("nats settings - authentication and TLS", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "hami-nats-auth-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function roundTrip(settings: NatsSettings): Promise<void> {
    await publishAll(settings, [sampleEvent("node", 1, "n")]);
    const bus = await NatsBus.start({ nats: settings, log });
    assert.deepEqual(
      (await collect(bus, 1)).map((e) => e.pod.name),
      ["pod-1"],
    );
    await bus.close();
  }

  it("user and password", async () => {
    const server = await startNats({
      args: ["--user", "hami", "--pass", "s3cret"],
      probe: { user: "hami", pass: "s3cret" },
    });
    try {
      await roundTrip({ url: server.url, user: "hami", password: "s3cret" });
    } finally {
      await server.cleanup();
    }
  });

  it("hami events: NATS_USER/NATS_PASSWORD apply with --nats; a refused login fails at once, naming the server", async () => {
    const server = await startNats({
      args: ["--user", "hami", "--pass", "s3cret"],
      probe: { user: "hami", pass: "s3cret" },
    });
    try {
      await publishAll({ url: server.url, user: "hami", password: "s3cret" }, [
        sampleEvent("node", 1, "n"),
      ]);
      const env = { NATS_URL: "", NATS_USER: "hami", NATS_PASSWORD: "s3cret" };
      const read = await runHami(["events", "--nats", server.url], env);
      assert.equal(read.code, 0, read.stderr);
      assert.match(read.stdout, /pod-1/);
      const refused = await runHami(["events", "--nats", server.url], {
        ...env,
        NATS_PASSWORD: "wrong",
      });
      assert.equal(refused.code, 2, refused.stdout);
      assert.match(
        refused.stderr,
        /cannot read events from NATS at nats:\/\/127\.0\.0\.1:\d+ \(auth user, tls false\): .*Authorization/i,
      );
    } finally {
      await server.cleanup();
    }
  });

  it("token", async () => {
    const server = await startNats({ args: ["--auth", "t0ken"], probe: { token: "t0ken" } });
    try {
      await roundTrip({ url: server.url, token: "t0ken" });
    } finally {
      await server.cleanup();
    }
  });

  it("nkey seed file", async () => {
    const user = nkeys.createUser();
    const seedFile = join(dir, "user.nk");
    await writeFile(seedFile, new TextDecoder().decode(user.getSeed()), { mode: 0o600 });
    const config = join(dir, "nkey.conf");
    await writeFile(config, `authorization { users = [ { nkey: ${user.getPublicKey()} } ] }\n`);
    const server = await startNats({
      args: ["-c", config],
      probe: { authenticator: nkeyAuthenticator(user.getSeed()) },
    });
    try {
      await roundTrip({ url: server.url, nkeyFile: seedFile });
    } finally {
      await server.cleanup();
    }
  });

  it("TLS with a CA file (certificates from our certgen)", async () => {
    const certs = join(dir, "tls");
    await ensureLocalCerts({ dir: certs, hosts: ["127.0.0.1", "localhost"], now: new Date() });
    const ca = join(certs, "ca.crt");
    const args = ["--tls", "--tlscert", join(certs, "tls.crt"), "--tlskey", join(certs, "tls.key")];
    const server = await startNats({ args, probe: { tls: { caFile: ca } } });
    try {
      await roundTrip({ url: server.url, tlsCaFile: ca });
    } finally {
      await server.cleanup();
    }
  });

  it("conflicting or incomplete settings are refused before connecting", async () => {
    const both = await runHami([
      "events",
      "--nats",
      "nats://127.0.0.1:1",
      "--nats-creds",
      "/x",
      "--nats-nkey",
      "/y",
    ]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /give one of user\/password, token, creds file or nkey file/);
    const halfTls = await runHami(["events", "--nats", "nats://127.0.0.1:1", "--nats-cert", "/x"]);
    assert.equal(halfTls.code, 2);
    assert.match(halfTls.stderr, /needs both the cert file and the key file/);
  });
});
