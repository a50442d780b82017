// Kubernetes client construction. KubeConfig.loadFromDefault() silently falls back to
// http://localhost:8080 without credentials when it finds nothing; we refuse that with a message.

import { ApiException, KubeConfig, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";

/** Request option for a JSON merge patch (client-node sends json-patch by default). */
export const MERGE_PATCH = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

export class K8sConfigError extends Error {
  override readonly name = "K8sConfigError";
}

/** From the given file, else $KUBECONFIG / ~/.kube/config / in-cluster service account. */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
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
