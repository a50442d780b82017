// A small HTTPS JSON client for tests: explicit CA trust, optional keep-alive agent.

import type { Agent } from "node:https";
import { request } from "node:https";

export interface HttpsCall {
  port: number;
  host: string;
  path: string;
  ca: string | string[];
  body?: unknown;
  agent?: Agent;
  /** A client certificate (mutual TLS). */
  client?: { cert: string; key: string };
}

export async function httpsJson(call: HttpsCall): Promise<{ status: number; body: unknown }> {
  const payload = call.body === undefined ? undefined : JSON.stringify(call.body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        ...(call.host === "127.0.0.1" ? {} : { servername: call.host }),
        port: call.port,
        path: call.path,
        method: payload === undefined ? "GET" : "POST",
        ca: call.ca,
        ...call.client,
        agent: call.agent ?? false,
        headers: payload === undefined ? {} : { "content-type": "application/json" },
      },
      (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => (text += chunk.toString()));
        res.on("end", () => {
          resolve({
            status: res.statusCode ?? 0,
            body:
              text === "" ? undefined : /^[[{]/.test(text) ? (JSON.parse(text) as unknown) : text,
          });
        });
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}
