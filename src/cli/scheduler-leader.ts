// One extender places pods at a time: placements and bind reservations live in its memory. With
// --leader-elect the replicas elect a leader on the Lease `hami-extender`; the leader labels its
// own pod `hami.io/extender-leader: "true"` (the chart's extender Service selects that label), and
// the others answer the verbs 503 until they lead. The webhook and status routes serve on every
// replica.

import type { KubeConfig } from "@kubernetes/client-node";
import type express from "express";
import { CoreV1Api } from "@kubernetes/client-node";
import { MERGE_PATCH, startLeaderElection } from "../k8s/index.js";
import type { Logger } from "../telemetry/index.js";

const LEADER_LABEL = "hami.io/extender-leader";
const EXTENDER_LEASE = "hami-extender";
const VERBS = ["/filter", "/prioritize", "/bind"];

export interface ExtenderLeader {
  leading(): boolean;
  stop(): Promise<void>;
}

export interface LeaderSettings {
  kc: KubeConfig;
  leaseNamespace: string;
  leaseSeconds: number;
  /** This replica's pod, to carry the leader label; identity too. */
  pod: { name: string; namespace: string } | undefined;
  log: Logger;
}

/** Labels (or unlabels) our own pod; patches are applied in order. */
function podLabeller(settings: LeaderSettings): (leading: boolean) => Promise<void> {
  const { pod, log } = settings;
  if (pod === undefined) return () => Promise.resolve();
  const core = settings.kc.makeApiClient(CoreV1Api);
  let last: Promise<void> = Promise.resolve();
  return (leading) => {
    const labels = { [LEADER_LABEL]: leading ? "true" : null };
    last = last.then(() =>
      core.patchNamespacedPod({ ...pod, body: { metadata: { labels } } }, MERGE_PATCH).then(
        () => undefined,
        (error: unknown) => {
          log.warn(
            { err: error, pod: `${pod.namespace}/${pod.name}`, leading },
            "pod label not written",
          );
        },
      ),
    );
    return last;
  };
}

export async function electExtenderLeader(settings: LeaderSettings): Promise<ExtenderLeader> {
  const label = podLabeller(settings);
  // A restarted leader's pod may still carry the label: clear it before campaigning.
  await label(false);
  const identity = settings.pod?.name ?? `hami-scheduler-${process.pid}`;
  const election = startLeaderElection({
    kc: settings.kc,
    namespace: settings.leaseNamespace,
    name: EXTENDER_LEASE,
    identity,
    leaseSeconds: settings.leaseSeconds,
    retryMs: Math.max(200, (settings.leaseSeconds * 1000) / 5),
    log: settings.log,
    onChange: (leading) => {
      void label(leading);
    },
  });
  return {
    leading: () => election.leading,
    stop: async () => {
      await election.stop();
      await label(false);
    },
  };
}

/** The extender verbs answer 503 on a replica that does not lead. */
export function leaderGate(leader: ExtenderLeader): express.RequestHandler {
  return (req, res, next) => {
    if (!VERBS.includes(req.path) || leader.leading()) {
      next();
      return;
    }
    res.status(503).json({ Error: "this extender replica is not the leader; retry" });
  };
}
