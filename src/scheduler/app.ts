// HTTP routes of the extender: thin handlers (decode -> call -> encode), plus the read-only status
// routes (explain, the GPU page, metrics) and health. The verbs change state (bind), so in a
// deployment they are served on loopback only, for the kube-scheduler in the same pod; the status
// routes get their own port. Every failure answers JSON; a body kube-scheduler cannot have sent is
// a 400 naming the field.

import express, { type NextFunction, type Request, type Response } from "express";
import { isStatus } from "../k8s/index.js";
import type { Registry } from "../telemetry/index.js";
import { awaitingCounts, pendingReason, type NodeVerdict } from "../core/index.js";
import { ALLOCATE_WAIT, bind, type BinderDeps } from "./binder.js";
import { explainPod, filter, prioritize } from "./extender.js";
import { decodeBindingArgs, decodeExtenderArgs } from "./protocol.js";
import type { LiveUsage, RecentEvents } from "./live.js";
import { UI_PAGE, uiState } from "./ui.js";

export const BODY_LIMIT = "16mb";

export interface SchedulerAppDeps extends BinderDeps {
  registry: Registry;
  /** True once the informers have listed nodes, leases and pods. */
  ready: () => boolean;
  /** The node monitors' latest samples and the last audit events, for the page (NATS only). */
  live?: { usage: LiveUsage; events: RecentEvents };
}

/** The page lists at most this many pending GPU pods (the oldest), each explained. */
const PENDING_SHOWN = 20;

/** The oldest pending GPU pods, each with why it is not placed. */
function pendingGpuPods(
  deps: SchedulerAppDeps,
): { namespace: string; name: string; reason: string }[] {
  const nodes = deps.view.nodeNames();
  return deps.view.pending
    .oldest(PENDING_SHOWN * 5)
    .flatMap((pod) => {
      const { demand, verdicts } = explainPod(pod as Parameters<typeof explainPod>[0], nodes, deps);
      if (demand.kind !== "devices") return [];
      const meta = pod.metadata ?? {};
      return [
        { namespace: meta.namespace ?? "", name: meta.name ?? "", reason: pendingReason(verdicts) },
      ];
    })
    .slice(0, PENDING_SHOWN);
}

interface ErrorLike {
  status?: number;
  message?: string;
}

/** Which route groups an app serves: the extender verbs, the read-only status routes, or both. */
export interface SchedulerRoutes {
  extender: boolean;
  status: boolean;
}

export function createSchedulerApp(
  deps: SchedulerAppDeps,
  routes: SchedulerRoutes = { extender: true, status: true },
): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  if (routes.extender) extenderRoutes(app, deps);
  if (routes.status) statusRoutes(app, deps);
  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/readyz", (_req, res) => {
    const ready = deps.ready();
    res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "informers not synced" });
  });
  app.use((_req: Request, res: Response) => {
    res.status(404).json({ Error: "not found" });
  });
  app.use((error: ErrorLike, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const status =
      error.status !== undefined && error.status >= 400 && error.status < 500 ? error.status : 500;
    if (status === 500) deps.log.error({ err: error }, "extender request failed");
    res.status(status).json({ Error: error.message ?? "internal error" });
  });
  return app;
}

function extenderRoutes(app: express.Express, deps: SchedulerAppDeps): void {
  // Parsed per route: the webhook's routes may share this server and read their own bodies.
  const json = express.json({ limit: BODY_LIMIT });
  const timed =
    (verb: string, handler: (body: unknown) => unknown) =>
    async (req: Request, res: Response): Promise<void> => {
      // Before the first lists arrive every node looks empty or unknown: answer an error, which
      // kube-scheduler retries with backoff, rather than refusals it would park for minutes.
      if (!deps.ready()) {
        res.status(503).json({ Error: "the extender is still loading nodes, leases and pods" });
        return;
      }
      const end = deps.metrics.latency.startTimer({ verb });
      const answer = await handler(req.body);
      end();
      res.json(answer);
    };
  app.post(
    "/filter",
    json,
    timed("filter", (body) => filter(decodeExtenderArgs(body), deps)),
  );
  app.post(
    "/prioritize",
    json,
    timed("prioritize", (body) => prioritize(decodeExtenderArgs(body), deps)),
  );
  app.post(
    "/bind",
    json,
    timed("bind", (body) => bind(decodeBindingArgs(body), deps)),
  );
}

/** On a node that fits: the pod a bind there would wait for now (the bind guard), and why. */
function withWait(
  verdict: NodeVerdict,
  uid: string,
  deps: SchedulerAppDeps,
): NodeVerdict & { waitsFor?: string } {
  if (!verdict.fits) return verdict;
  const { expiryMs, waitMs } = deps.allocateWait ?? ALLOCATE_WAIT;
  const since = deps.clock().getTime();
  const counts = awaitingCounts(verdict.devices);
  const blocker = deps.view.awaitingAllocate(verdict.node, counts, { uid, since }, expiryMs);
  if (blocker === undefined) return verdict;
  const who = `${blocker.namespace}/${blocker.name}`;
  return {
    ...verdict,
    waitsFor: who,
    reason: `${verdict.reason}; a bind here waits (up to ${waitMs / 1000} s) for ${who}'s Allocate: the kubelet could swap pods with the same device count`,
  };
}

function statusRoutes(app: express.Express, deps: SchedulerAppDeps): void {
  app.get("/explain/:namespace/:name", async (req, res) => {
    const { namespace, name } = req.params;
    const pod = await deps.api.readPod(namespace, name).catch((error: unknown) => {
      if (isStatus(error, 404)) return undefined;
      throw error;
    });
    if (pod === undefined) {
      res.status(404).json({ Error: `pod ${namespace}/${name} not found` });
      return;
    }
    const { demand, verdicts } = explainPod(
      pod as Parameters<typeof explainPod>[0],
      deps.view.nodeNames(),
      deps,
    );
    const uid = pod.metadata?.uid ?? "";
    res.json({
      pod: `${namespace}/${name}`,
      node: pod.spec?.nodeName,
      demand,
      verdicts: verdicts.map((v) => withWait(v, uid, deps)),
      nodeSettings: Object.fromEntries(
        verdicts.flatMap((v) => {
          const settings = deps.view.settings.get(v.node);
          return settings === undefined ? [] : [[v.node, settings]];
        }),
      ),
    });
  });
  app.get("/ui", (_req, res) => {
    res.type("html").send(UI_PAGE);
  });
  app.get("/ui/state", (_req, res) => {
    res.json(
      uiState(deps.view, {
        ...(deps.live ?? {}),
        pending: () => pendingGpuPods(deps),
      }),
    );
  });
  app.get("/metrics", async (_req, res) => {
    res.type(deps.registry.contentType).send(await deps.registry.metrics());
  });
}
