// Kubernetes client construction. KubeConfig.loadFromDefault() silently falls back to
// http://localhost:8080 without credentials when it finds nothing; we refuse that with a message.

import { createHash } from "node:crypto";
import { Agent, type RequestOptions } from "node:https";
import { ApiException, KubeConfig, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";

/** Request option for a JSON merge patch (client-node sends json-patch by default). */
export const MERGE_PATCH = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

export class K8sConfigError extends Error {
  override readonly name = "K8sConfigError";
}

type RequestContext = Parameters<KubeConfig["applySecurityAuthentication"]>[0];

/**
 * A KubeConfig whose requests reuse TLS connections. client-node 1.x builds a new https.Agent for
 * every API call and every watch (KubeConfig.createAgent in its config.js), so each call pays a
 * full TLS handshake with the client key: bench:scheduler found its process at 100% CPU, most of it
 * in TLS setup, at about 15 binds/s. Here every call with the same TLS identity (CA, client
 * certificate and key, server name) shares one keep-alive agent; proxy agents are left as made.
 */
export class KeepAliveKubeConfig extends KubeConfig {
  readonly #agents = new Map<string, Agent>();

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const shared = this.#shared(context.getAgent());
    if (shared !== undefined) context.setAgent(shared);
  }

  override async applyToHTTPSOptions(opts: RequestOptions): Promise<void> {
    await super.applyToHTTPSOptions(opts);
    const shared = this.#shared(opts.agent);
    if (shared !== undefined) opts.agent = shared;
  }

  #shared(fresh: unknown): Agent | undefined {
    if (!(fresh instanceof Agent) || fresh.constructor !== Agent) return undefined;
    const { ca, cert, key, pfx, passphrase, servername, rejectUnauthorized } = fresh.options;
    const hash = createHash("sha256");
    for (const part of [ca, cert, key, pfx, passphrase, servername, rejectUnauthorized].flat())
      hash.update(Buffer.isBuffer(part) ? part : JSON.stringify([part]));
    const identity = hash.digest("hex");
    let agent = this.#agents.get(identity);
    if (agent === undefined) {
      // No socket timeout: a watch is quiet for minutes (the informer's watchdog re-opens it).
      agent = new Agent({ ...fresh.options, timeout: undefined, keepAlive: true });
      this.#agents.set(identity, agent);
    }
    return agent;
  }
}

/** From the given file, else $KUBECONFIG / ~/.kube/config / in-cluster service account. */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KeepAliveKubeConfig();
  try {
    if (path === undefined) kc.loadFromDefault();
    else kc.loadFromFile(path);
  } catch (error) {
    throw new K8sConfigError(
      `cannot load kubeconfig ${path ?? "(default)"}: ${(error as Error).message}`,
    );
  }
  const cluster = kc.getCurrentCluster();
  if (cluster === null || cluster.server === "http://localhost:8080") {
    throw new K8sConfigError(
      "no Kubernetes cluster configured: give --kubeconfig, set KUBECONFIG, or run in a pod",
    );
  }
  return kc;
}

/** A write lost an optimistic-concurrency race (HTTP 409): re-read and decide again. */
export class ConflictError extends Error {
  override readonly name = "ConflictError";
}

export function isStatus(error: unknown, code: number): boolean {
  return error instanceof ApiException && error.code === code;
}

/**
 * Runs a read-modify-write step until it does not hit a 409 Conflict (another writer changed the
 * object between our read and our write), up to `attempts` times.
 */
export async function retryOnConflict<T>(step: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      if (!isStatus(error, 409) || attempt >= attempts) throw error;
    }
  }
}
