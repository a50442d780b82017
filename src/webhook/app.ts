// The express app: admission routes (/mutate, and /webhook as HAMi names it), health and metrics.
// Every failure ends in a JSON answer; nothing a client sends can take the process down.

import express, { type NextFunction, type Request, type Response } from "express";
import type { Registry } from "../telemetry/index.js";
import { readJsonBody } from "./body.js";
import { handleAdmission, type AdmissionDeps } from "./handler.js";

export const BODY_LIMIT_BYTES = 4 * 1024 * 1024;
export const ADMISSION_PATHS = ["/mutate", "/webhook"];

export interface AppDeps extends AdmissionDeps {
  registry: Registry;
  /** Serve /metrics here (false where metrics have their own port). */
  metricsRoute?: boolean;
  /** False while starting or shutting down; /readyz answers 503 then. */
  ready: () => boolean;
}

/** What express and readJsonBody (HttpError) throw: an optional 4xx status and a type. */
interface ErrorLike {
  status?: number;
  type?: string;
  message?: string;
}

function errorHandler(deps: AppDeps) {
  return (error: ErrorLike, _req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const status =
      error.status !== undefined && error.status >= 400 && error.status < 500 ? error.status : 500;
    const message = status === 500 ? "internal error" : (error.message ?? "bad request");
    deps.metrics.requests.inc({ decision: "error" });
    if (status === 500) deps.log.error({ err: error }, "request failed");
    else deps.log.warn({ status, type: error.type, message }, "request rejected");
    res.status(status).json({ error: message, type: error.type });
  };
}

/** Writes JSON directly: express's res.json costs more than the whole admission decision. */
function sendJson(res: Response, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

export function createWebhookApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable("x-powered-by");
  // Admission answers are never cached; hashing each body for an ETag is wasted work.
  app.set("etag", false);
  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/readyz", (_req, res) => {
    const ready = deps.ready();
    res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "not ready" });
  });
  if (deps.metricsRoute !== false)
    app.get("/metrics", async (_req, res) => {
      res.type(deps.registry.contentType).send(await deps.registry.metrics());
    });
  // Express 5 forwards a rejected promise (a body that cannot be read) to errorHandler.
  app.post(ADMISSION_PATHS, async (req, res) => {
    const end = deps.metrics.latency.startTimer();
    const result = handleAdmission(await readJsonBody(req, BODY_LIMIT_BYTES), deps);
    const decision =
      result.status === 200 ? (result.body.response.allowed ? "allowed" : "denied") : "error";
    end({ decision });
    sendJson(res, result.status, result.body);
  });
  app.use(errorHandler(deps));
  return app;
}

/** Mounted last by whoever composes the apps: an unknown route is a JSON 404 too. */
export function notFound(_req: Request, res: Response): void {
  res.status(404).json({ error: "not found" });
}
