// Baselines for the webhook benchmark, served by the same serveHttps (same TLS, keep-alive and
// timeouts) and express settings as hami:
//   fixed: answers every POST /mutate with one fixed AdmissionResponse, never reading the body;
//   parse: reads and JSON-parses the body first (the least any real webhook must do).

import express from "express";
import { pino } from "pino";
import { readJsonBody, serveHttps, BODY_LIMIT_BYTES } from "../../src/webhook/index.js";

const [mode, certFile, keyFile, port] = process.argv.slice(2);
if ((mode !== "fixed" && mode !== "parse") || !certFile || !keyFile || !port) {
  process.stderr.write("usage: bare-server fixed|parse CERT KEY PORT\n");
  process.exit(2);
}

const fixed = {
  apiVersion: "admission.k8s.io/v1",
  kind: "AdmissionReview",
  response: { uid: "0df28fbd-5f5f-11e8-bc74-36e6bb280816", allowed: true },
};

const app = express();
app.disable("x-powered-by");
app.set("etag", false);
if (mode === "fixed") {
  app.post("/mutate", (_req, res) => {
    res.json(fixed);
  });
} else {
  app.post("/mutate", async (req, res) => {
    await readJsonBody(req, BODY_LIMIT_BYTES);
    res.json(fixed);
  });
}

await serveHttps({
  handler: app,
  host: "127.0.0.1",
  port: Number(port),
  certFile,
  keyFile,
  log: pino({ level: "silent" }),
});
