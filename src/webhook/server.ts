// HTTPS serving of the webhook app: TLS 1.2+ with modern suites, keep-alive tuned for the apiserver's pooled
// connections, certificates reloaded from disk without dropping requests.

import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { RequestListener } from "node:http";
import type { TLSSocket } from "node:tls";
import { watchCertificates, type CertWatcher, type PemPair } from "../certs/index.js";
import type { Logger } from "../telemetry/index.js";

// Longer than the apiserver's idle-connection timeout (90 s), so the server never closes a
// connection the client is about to reuse.
const KEEP_ALIVE_TIMEOUT_MS = 95_000;
const HEADERS_TIMEOUT_MS = 100_000;
/** How long requests in flight may finish at shutdown before their connections are ended. */
const CLOSE_GRACE_MS = 2_000;
/** TLS 1.2+ with forward-secret AEAD suites only (ECDHE + GCM/ChaCha20; TLS 1.3's are all AEAD):
 * none of Node's defaults with static RSA key exchange or CBC/SHA-1. */
export const TLS_SETTINGS = {
  minVersion: "TLSv1.2",
  ciphers: [
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
  ].join(":"),
  honorCipherOrder: true,
} as const;

export interface ServeOptions {
  handler: RequestListener;
  host: string;
  port: number;
  certFile: string;
  keyFile: string;
  log: Logger;
  certPollMs?: number;
  /** Mutual TLS: only clients with a certificate from this CA (read again on each reload) and
   * one of these subject common names get an answer; others fail the handshake or get 403. */
  clientAuth?: { caFile: string; commonNames: string[] };
}

export interface RunningServer {
  server: Server;
  port: number;
  certs: CertWatcher;
  close(): Promise<void>;
}

async function readPair(certFile: string, keyFile: string): Promise<PemPair> {
  const [cert, key] = await Promise.all([readFile(certFile, "utf8"), readFile(keyFile, "utf8")]);
  return { cert, key };
}

function clientSettings(options: ServeOptions): object {
  const auth = options.clientAuth;
  if (auth === undefined) return {};
  return { requestCert: true, rejectUnauthorized: true, ca: readFileSync(auth.caFile, "utf8") };
}

/** Answers 403 to a verified client whose certificate names someone else. */
function requireClient(
  handler: RequestListener,
  commonNames: string[],
  log: Logger,
): RequestListener {
  return (req, res) => {
    const subject = (req.socket as TLSSocket).getPeerCertificate().subject as
      Record<string, unknown> | undefined;
    const name = typeof subject?.CN === "string" ? subject.CN : undefined;
    if (name !== undefined && commonNames.includes(name)) {
      handler(req, res);
      return;
    }
    log.warn({ client: name?.slice(0, 64), path: req.url?.slice(0, 64) }, "client refused");
    res.writeHead(403, { "content-type": "text/plain" });
    res.end(
      `client certificate ${JSON.stringify(name?.slice(0, 64) ?? "")} may not call this port\n`,
    );
  };
}

export async function serveHttps(options: ServeOptions): Promise<RunningServer> {
  const { log } = options;
  const initial = await readPair(options.certFile, options.keyFile);
  const handler =
    options.clientAuth === undefined
      ? options.handler
      : requireClient(options.handler, options.clientAuth.commonNames, log);
  const server = createServer({ ...initial, ...TLS_SETTINGS, ...clientSettings(options) }, handler);
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.on("tlsClientError", (error) => {
    log.debug({ err: error }, "tls handshake failed");
  });
  const certs = watchCertificates(
    {
      certFile: options.certFile,
      keyFile: options.keyFile,
      pollMs: options.certPollMs,
      onChange: (pair) => {
        server.setSecureContext({ ...pair, ...TLS_SETTINGS, ...clientSettings(options) });
        log.info({ certFile: options.certFile }, "serving certificate reloaded");
      },
      onError: (error) => {
        log.warn({ err: error }, "certificate reload failed, keeping the current one");
      },
    },
    initial,
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const close = async (): Promise<void> => {
    certs.close();
    await closeServer(server);
  };
  return { server, port, certs, close };
}

/** Stops accepting and ends idle keep-alive connections; requests in flight get `graceMs` to
 * finish, then every connection left is ended. server.close() alone waited for the apiserver's
 * pooled connections: a real-node run needed a SIGKILL 10 s after hami scheduler's SIGTERM. */
export async function closeServer(
  server: {
    close(callback: () => void): unknown;
    closeIdleConnections(): void;
    closeAllConnections(): void;
  },
  graceMs = CLOSE_GRACE_MS,
): Promise<void> {
  const closed = new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  server.closeIdleConnections();
  const timer = setTimeout(() => {
    server.closeAllConnections();
  }, graceMs);
  await closed;
  clearTimeout(timer);
}
