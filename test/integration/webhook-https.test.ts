// The webhook over real HTTPS with generated certificates, including a certificate swap on disk
// while requests keep flowing.

import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { Agent } from "node:https";
import { connect, type ConnectionOptions, type TLSSocket } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { generateCA, generateServing, type PemPair } from "../../src/certs/index.js";
import type { RunningServer } from "../../src/webhook/index.js";
import { httpsJson } from "../helpers/https.js";
import { waitFor } from "../helpers/net.js";
import { pod, review } from "../helpers/pods.js";
import { serveWebhook } from "../helpers/webhook.js";

const HOSTS = ["127.0.0.1", "localhost", "hami-webhook.kube-system.svc"];

async function writePair(dir: string, pair: PemPair): Promise<void> {
  await writeFile(join(dir, "tls.key"), pair.key, { mode: 0o600 });
  await writeFile(join(dir, "tls.crt"), pair.cert);
}

describe("webhook over HTTPS", () => {
  let dir: string;
  let running: RunningServer;
  const ca1 = generateCA({ commonName: "ca-one", now: new Date() });
  const ca2 = generateCA({ commonName: "ca-two", now: new Date() });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "hami-https-"));
    await writePair(dir, generateServing(ca1, { hosts: HOSTS, now: new Date() }));
    running = (await serveWebhook(dir)).server;
  });

  after(async () => {
    await running.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("offers only forward-secret AEAD suites: static RSA and CBC/SHA-1 handshakes fail", async () => {
    const handshake = (options: ConnectionOptions): Promise<string> =>
      new Promise((resolve) => {
        const socket = connect({
          host: "127.0.0.1",
          port: running.port,
          ca: ca1.cert,
          servername: "localhost",
          ...options,
        });
        socket.once("secureConnect", () => {
          resolve(socket.getCipher().name);
          socket.destroy();
        });
        socket.once("error", () => {
          resolve("refused");
        });
      });
    const tls12 = { minVersion: "TLSv1.2", maxVersion: "TLSv1.2" } as const;
    for (const weak of ["AES128-SHA", "AES256-GCM-SHA384", "ECDHE-RSA-AES128-SHA", "AES128-SHA256"])
      assert.equal(await handshake({ ...tls12, ciphers: weak }), "refused", weak);
    assert.equal(
      await handshake({ ...tls12, ciphers: "ECDHE-RSA-AES128-GCM-SHA256" }),
      "ECDHE-RSA-AES128-GCM-SHA256",
    );
    assert.match(await handshake({ minVersion: "TLSv1.3" }), /^TLS_/);
    assert.equal(await handshake({ maxVersion: "TLSv1.1", minVersion: "TLSv1" }), "refused");
  });

  it("is reached for each SAN by a client trusting only the CA", async () => {
    for (const host of HOSTS) {
      const res = await httpsJson({
        port: running.port,
        host,
        path: "/mutate",
        ca: ca1.cert,
        body: review(pod()),
      });
      assert.equal(res.status, 200, host);
    }
  });

  it("refuses clients that trust another CA, and names outside the SANs", async () => {
    await assert.rejects(
      httpsJson({ port: running.port, host: "localhost", path: "/healthz", ca: ca2.cert }),
      /self-signed|unable to verify|certificate/i,
    );
    await assert.rejects(
      httpsJson({ port: running.port, host: "evil.example", path: "/healthz", ca: ca1.cert }),
      /altnames|Hostname/i,
    );
  });

  it("picks up a certificate swapped on disk without a restart and without failing a request", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    let ok = 0;
    const failures: unknown[] = [];
    let stop = false;
    const traffic = (async () => {
      while (!stop && failures.length === 0) {
        try {
          const res = await httpsJson({
            port: running.port,
            host: "localhost",
            path: "/mutate",
            ca: [ca1.cert, ca2.cert],
            body: review(pod()),
            agent,
          });
          if (res.status === 200) ok++;
          else failures.push(res.status);
        } catch (error) {
          failures.push(error);
        }
      }
    })();
    const flowing = (n: number) => () => {
      if (failures.length > 0) throw new Error(`request failed: ${String(failures[0])}`);
      return ok > n;
    };
    await waitFor("traffic flowing", flowing(20));
    await writePair(dir, generateServing(ca2, { hosts: HOSTS, now: new Date() }));
    await waitFor("new certificate served", async () => {
      const res = await httpsJson({
        port: running.port,
        host: "localhost",
        path: "/healthz",
        ca: ca2.cert,
      });
      return res.status === 200;
    });
    const afterSwap = ok;
    await waitFor("traffic after the swap", flowing(afterSwap + 20));
    stop = true;
    await traffic;
    agent.destroy();
    assert.deepEqual(failures, []);
    await assert.rejects(
      httpsJson({ port: running.port, host: "localhost", path: "/healthz", ca: ca1.cert }),
    );
  });
});

describe("webhook over HTTPS - shutdown", () => {
  it("close() ends within its grace while a client holds a pooled connection and a request half sent", async () => {
    // A real-node run needed a SIGKILL 10 s after hami scheduler's SIGTERM: server.close() waited
    // for connections the apiserver kept open.
    const dir = await mkdtemp(join(tmpdir(), "hami-https-close-"));
    const ca = generateCA({ commonName: "ca-close", now: new Date() });
    await writePair(dir, generateServing(ca, { hosts: HOSTS, now: new Date() }));
    const server = (await serveWebhook(dir)).server;
    const open = (payload: string) =>
      new Promise<TLSSocket>((resolve) => {
        const socket = connect({
          host: "127.0.0.1",
          port: server.port,
          ca: ca.cert,
          servername: "localhost",
        });
        socket.once("secureConnect", () => {
          socket.write(payload);
          resolve(socket);
        });
      });
    const sockets = [
      await open("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"),
      await open("POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n{"),
    ];
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    try {
      const closed = await Promise.race([
        server.close().then(() => Date.now() - started),
        new Promise<string>((resolve) =>
          setTimeout(() => {
            resolve("still closing after 8 s");
          }, 8_000),
        ),
      ]);
      assert.ok(typeof closed === "number" && closed < 2_000 + 1_000, String(closed));
    } finally {
      for (const socket of sockets) socket.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
