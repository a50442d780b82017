// Loopback port helpers for tests.

import { request, type RequestOptions } from "node:https";
import { createServer } from "node:net";

/** Ports this process already handed out: the OS may offer a just-closed port again at once (etcd
 * once got the same port for its client and peer listeners). */
const handedOut = new Set<number>();

/** A TCP port that was free a moment ago on 127.0.0.1, never one this process handed out before. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await unusedPort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

/** Polls until fn resolves truthy or the deadline passes. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError instanceof Error ? `: ${lastError.message}` : ""}`,
  );
}

/** Status of one HTTPS GET (no connection reuse); rejects when the server cannot be reached. */
export function httpsStatus(url: string, options: RequestOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, timeout: 2_000, ...options }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer from ${url} within 2 s`)));
    req.on("error", reject);
    req.end();
  });
}
