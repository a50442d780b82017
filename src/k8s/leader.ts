// Leader election on a coordination.k8s.io Lease (the decision is core's leaseStep). One candidate
// leads at a time; it renews every retry period and gives up leading when it could not renew for
// a whole lease duration, so two candidates never both believe they lead for longer than that.
// stop() hands the Lease over at once by clearing its holder.

import {
  CoordinationV1Api,
  V1MicroTime,
  type KubeConfig,
  type V1Lease,
} from "@kubernetes/client-node";
import { leaseStep, type LeaseRecord } from "../core/index.js";
import type { Logger } from "../telemetry/index.js";
import { isStatus } from "./client.js";

export interface LeaderElectionOptions {
  kc: KubeConfig;
  namespace: string;
  name: string;
  identity: string;
  leaseSeconds: number;
  retryMs: number;
  log: Logger;
  /** Called on every change, true when this candidate starts leading, false when it stops. */
  onChange: (leading: boolean) => void;
  clock?: () => number;
}

export interface LeaderElection {
  readonly leading: boolean;
  /** Stops campaigning; a leader clears the Lease's holder so another takes over at once. */
  stop(): Promise<void>;
}

function record(lease: V1Lease | undefined): LeaseRecord | undefined {
  if (lease === undefined) return undefined;
  return {
    holder: lease.spec?.holderIdentity ?? "",
    version: lease.metadata?.resourceVersion ?? "",
  };
}

export function startLeaderElection(options: LeaderElectionOptions): LeaderElection {
  const api = options.kc.makeApiClient(CoordinationV1Api);
  const { namespace, name, identity, log } = options;
  const clock = options.clock ?? Date.now;
  const durationMs = options.leaseSeconds * 1000;
  let leading = false;
  let lastRenewMs = 0;
  let seen = { version: "", atMs: clock() };
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const setLeading = (value: boolean, why: string): void => {
    if (value === leading) return;
    leading = value;
    log.info({ lease: `${namespace}/${name}`, identity, leading, reason: why }, "leadership");
    options.onChange(value);
  };

  const read = async (): Promise<V1Lease | undefined> => {
    try {
      return await api.readNamespacedLease({ name, namespace });
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  };

  const spec = (nowMs: number, transitions: number) => ({
    holderIdentity: identity,
    leaseDurationSeconds: options.leaseSeconds,
    acquireTime: new V1MicroTime(nowMs),
    renewTime: new V1MicroTime(nowMs),
    leaseTransitions: transitions,
  });

  const attempt = async (): Promise<void> => {
    const lease = await read();
    const nowMs = clock();
    const current = record(lease);
    if (current !== undefined && current.version !== seen.version)
      seen = { version: current.version, atMs: nowMs };
    const step = leaseStep({
      record: current,
      identity,
      observedAtMs: seen.atMs,
      nowMs,
      durationMs,
    });
    if (step.kind === "follow") {
      setLeading(false, `held by ${step.holder}`);
      return;
    }
    if (step.kind === "create" || lease === undefined) {
      await api.createNamespacedLease({
        namespace,
        body: { metadata: { name }, spec: spec(nowMs, 0) },
      });
    } else {
      const body = structuredClone(lease);
      const transitions = body.spec?.leaseTransitions ?? 0;
      body.spec =
        step.kind === "renew"
          ? { ...spec(nowMs, transitions), acquireTime: body.spec?.acquireTime }
          : spec(nowMs, transitions + 1);
      await api.replaceNamespacedLease({ name, namespace, body });
    }
    lastRenewMs = nowMs;
    setLeading(true, step.kind === "take" ? `took over from ${step.from || "nobody"}` : step.kind);
  };

  const tick = async (): Promise<void> => {
    try {
      await attempt();
    } catch (error) {
      if (!isStatus(error, 409)) log.warn({ err: error, lease: name }, "lease renewal failed");
      if (leading && clock() - lastRenewMs >= durationMs)
        setLeading(false, "could not renew the lease in time");
    }
  };

  const loop = (): void => {
    if (stopped) return;
    running = tick().finally(() => {
      if (!stopped) timer = setTimeout(loop, options.retryMs);
    });
  };
  loop();

  return {
    get leading() {
      return leading;
    },
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
      if (!leading) return;
      try {
        const lease = await read();
        if (lease?.spec?.holderIdentity === identity) {
          const body = structuredClone(lease);
          body.spec ??= {};
          body.spec.holderIdentity = "";
          body.spec.leaseDurationSeconds = 1;
          await api.replaceNamespacedLease({ name, namespace, body });
        }
      } catch (error) {
        log.warn({ err: error, lease: name }, "could not release the lease; it expires instead");
      }
      setLeading(false, "stopped");
    },
  };
}
