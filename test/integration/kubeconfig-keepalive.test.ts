// client-node 1.x makes a new https.Agent for every API call: one TLS handshake (client key and
// all) per call. bench:scheduler found the binder's process at 100% CPU in TLS setup, at about 15
// binds/s. KeepAliveKubeConfig shares one keep-alive agent per TLS identity. Here a real HTTPS
// server standing in for the API server (mutual TLS, as kube-apiserver asks of a client
// certificate) counts the TLS connections the client opens.

import assert from "node:assert/strict";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { CoreV1Api, KubeConfig, Watch } from "@kubernetes/client-node";
import { generateCA, generateClient, generateServing } from "../../src/certs/index.js";
import { KeepAliveKubeConfig } from "../../src/k8s/index.js";

const now = new Date();
const ca = generateCA({ commonName: "test-ca", now, keyBits: 2048 });
const serving = generateServing(ca, { hosts: ["127.0.0.1"], now, keyBits: 2048 });
const client = (name: string) => generateClient(ca, { commonName: name, now, keyBits: 2048 });

function kubeconfig<T extends KubeConfig>(kc: T, port: number, user = client("alice")): T {
  const b64 = (text: string): string => Buffer.from(text).toString("base64");
  kc.loadFromOptions({
    clusters: [
      {
        name: "c",
        server: `https://127.0.0.1:${port}`,
        caData: b64(ca.cert),
        skipTLSVerify: false,
      },
    ],
    users: [{ name: "u", certData: b64(user.cert), keyData: b64(user.key) }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return kc;
}

describe("KeepAliveKubeConfig (real HTTPS with client certificates)", () => {
  let server: Server;
  let port: number;
  let connections = 0;

  before(async () => {
    server = createServer(
      { ...serving, ca: ca.cert, requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        res.setHeader("content-type", "application/json");
        if (req.url?.includes("watch=true")) {
          // A watch that stays open: one ADDED event, then silence.
          res.write(
            `${JSON.stringify({ type: "ADDED", object: { kind: "Pod", metadata: { name: "w" } } })}\n`,
          );
          return;
        }
        res.end(JSON.stringify({ kind: "Pod", apiVersion: "v1", metadata: { name: "p" } }));
      },
    );
    server.on("secureConnection", () => connections++);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  async function reads(kc: KubeConfig, count: number): Promise<number> {
    const core = kc.makeApiClient(CoreV1Api);
    const before = connections;
    for (let i = 0; i < count; i++)
      assert.equal(
        (await core.readNamespacedPod({ namespace: "default", name: "p" })).metadata?.name,
        "p",
      );
    return connections - before;
  }

  it("client-node's own KubeConfig opens a TLS connection per call (why this class exists)", async () => {
    assert.equal(await reads(kubeconfig(new KubeConfig(), port), 10), 10);
  });

  it("20 calls in a row share one TLS connection", async () => {
    assert.equal(await reads(kubeconfig(new KeepAliveKubeConfig(), port), 20), 1);
  });

  it("a watch keeps its own connection open while calls reuse another", async () => {
    const kc = kubeconfig(new KeepAliveKubeConfig(), port);
    const before = connections;
    const seen: string[] = [];
    const request = await new Watch(kc).watch(
      "/api/v1/namespaces/default/pods",
      {},
      (_type, object: { metadata?: { name?: string } }) => seen.push(object.metadata?.name ?? ""),
      () => undefined,
    );
    assert.equal(await reads(kc, 10), 1);
    assert.deepEqual(seen, ["w"]);
    assert.equal(connections - before, 2, "the watch's connection and one for the calls");
    request.abort();
  });

  it("another client identity gets its own connection, never another's", async () => {
    const alice = kubeconfig(new KeepAliveKubeConfig(), port, client("alice"));
    const bob = kubeconfig(new KeepAliveKubeConfig(), port, client("bob"));
    const peers: string[] = [];
    const listener = (socket: { getPeerCertificate: () => { subject?: { CN?: string } } }) =>
      peers.push(socket.getPeerCertificate().subject?.CN ?? "");
    server.on("secureConnection", listener);
    try {
      await reads(alice, 3);
      await reads(bob, 3);
      await reads(alice, 3);
    } finally {
      server.off("secureConnection", listener);
    }
    assert.deepEqual(peers, ["alice", "bob"]);
  });
});
