// The express app: admission routes (/mutate, and /webhook as HAMi names it), health and metrics.
// Every failure ends in a JSON answer; nothing a client sends can take the process down.

import express, { type NextFunction, type Request, type Response } from "express";
import type { Registry } from "../telemetry/index.js";
import { handleAdmission, type AdmissionDeps } from "./handler.js";

export const BODY_LIMIT = "4mb";
export const ADMISSION_PATHS = ["/mutate", "/webhook"];

export interface AppDeps extends AdmissionDeps {
  registry: Registry;
  /** False while starting or shutting down; /readyz answers 503 then. */
  ready: () => boolean;
}

interface HttpError {
  status?: number;
  type?: string;
  message?: string;
}

function errorHandler(deps: AppDeps) {
  return (error: HttpError, _req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const status =
      error.status !== undefined && error.status >= 400 && error.status < 500 ? error.status : 500;
    const message = status === 500 ? "internal error" : (error.message ?? "bad request");
    if (status === 500) deps.log.error({ err: error }, "request failed");
    else deps.log.warn({ status, type: error.type, message }, "request rejected");
    res.status(status).json({ error: message, type: error.type });
  };
}

export function createWebhookApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/readyz", (_req, res) => {
    const ready = deps.ready();
    res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "not ready" });
  });
  app.get("/metrics", async (_req, res) => {
    res.type(deps.registry.contentType).send(await deps.registry.metrics());
  });
  app.post(ADMISSION_PATHS, express.json({ limit: BODY_LIMIT, strict: true }), (req, res) => {
    const end = deps.metrics.latency.startTimer();
    const body: unknown = req.body;
    const result = handleAdmission(body, deps);
    const decision =
      result.status === 200 ? (result.body.response.allowed ? "allowed" : "denied") : "error";
    end({ decision });
    res.status(result.status).json(result.body);
  });
  app.use(errorHandler(deps));
  return app;
}
