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
        agent: call.agent ?? false,
        headers: payload === undefined ? {} : { "content-type": "application/json" },
      },
      (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => (text += chunk.toString()));
        res.on("end", () => {
          resolve({
            status: res.statusCode ?? 0,
            body: text === "" ? undefined : (JSON.parse(text) as unknown),
          });
        });
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}
