// certgen against the Kubernetes API: keep the webhook's certificates in a kubernetes.io/tls Secret
// (renewed in place, CA kept while valid) and publish the CA as caBundle of every webhook in a
// MutatingWebhookConfiguration. Read-modify-write with resourceVersion, retried on conflict.

import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  type KubeConfig,
  type V1Secret,
} from "@kubernetes/client-node";
import { renewCertificates, type RenewalCheck, type RenewOptions } from "../certs/index.js";
import { isStatus, retryOnConflict } from "../k8s/index.js";

/** Secret keys: kubernetes.io/tls ones, kube-webhook-certgen's, and the CA key so renewals keep the
 * CA. Each further pair (RenewOptions.leaves) is stored as NAME.crt and NAME.key. */
export const SECRET_KEYS = {
  cert: "tls.crt",
  key: "tls.key",
  caCert: "ca.crt",
  caKey: "ca.key",
} as const;
const COMPAT_KEYS = { cert: "cert", key: "key", caCert: "ca" } as const;

export function serviceHosts(service: string, namespace: string, extra: string[]): string[] {
  const names = [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
  ];
  return [...new Set([...names, ...extra])];
}

function decode(secret: V1Secret | undefined, key: string): string | undefined {
  const value = secret?.data?.[key];
  return value === undefined ? undefined : Buffer.from(value, "base64").toString("utf8");
}

export interface CreateOptions extends RenewOptions {
  kc: KubeConfig;
  namespace: string;
  secretName: string;
}

export interface CreateResult extends RenewalCheck {
  written: boolean;
}

async function readSecret(
  core: CoreV1Api,
  namespace: string,
  name: string,
): Promise<V1Secret | undefined> {
  try {
    return await core.readNamespacedSecret({ namespace, name });
  } catch (error) {
    if (isStatus(error, 404)) return undefined;
    throw error;
  }
}

/** `hami certgen create`: idempotent; writes the Secret only when something had to change. */
export async function certgenCreate(options: CreateOptions): Promise<CreateResult> {
  const core = options.kc.makeApiClient(CoreV1Api);
  const { namespace, secretName: name } = options;
  return retryOnConflict(async () => {
    const existing = await readSecret(core, namespace, name);
    const leafNames = Object.keys(options.leaves ?? {});
    const stored = {
      ca: { cert: decode(existing, SECRET_KEYS.caCert), key: decode(existing, SECRET_KEYS.caKey) },
      serving: { cert: decode(existing, SECRET_KEYS.cert), key: decode(existing, SECRET_KEYS.key) },
      leaves: Object.fromEntries(
        leafNames.map((name) => [
          name,
          { cert: decode(existing, `${name}.crt`), key: decode(existing, `${name}.key`) },
        ]),
      ),
    };
    const result = renewCertificates(stored, options);
    if (!result.changed) return { ...result.check, written: false };
    const b64 = (text: string): string => Buffer.from(text).toString("base64");
    const data = {
      [SECRET_KEYS.cert]: b64(result.serving.cert),
      [SECRET_KEYS.key]: b64(result.serving.key),
      [SECRET_KEYS.caCert]: b64(result.ca.cert),
      [SECRET_KEYS.caKey]: b64(result.ca.key),
      [COMPAT_KEYS.cert]: b64(result.serving.cert),
      [COMPAT_KEYS.key]: b64(result.serving.key),
      [COMPAT_KEYS.caCert]: b64(result.ca.cert),
      ...Object.fromEntries(
        Object.entries(result.leaves).flatMap(([name, pair]) => [
          [`${name}.crt`, b64(pair.cert)],
          [`${name}.key`, b64(pair.key)],
        ]),
      ),
    };
    const metadata = {
      name,
      namespace,
      labels: { "app.kubernetes.io/managed-by": "hami-certgen" },
      resourceVersion: existing?.metadata?.resourceVersion,
    };
    const body: V1Secret = {
      apiVersion: "v1",
      kind: "Secret",
      type: "kubernetes.io/tls",
      metadata,
      data,
    };
    if (existing) await core.replaceNamespacedSecret({ namespace, name, body });
    else await core.createNamespacedSecret({ namespace, body });
    return { ...result.check, written: true };
  });
}

export interface PatchOptions {
  kc: KubeConfig;
  namespace: string;
  secretName: string;
  webhookName: string;
  failurePolicy?: "Fail" | "Ignore";
}

/** The fail-closed entry for GPU pods; the overwriteEnv entry for other pods keeps Ignore. */
export const GPU_WEBHOOK = "vgpu.hami.io";

/** `hami certgen patch`: the Secret's CA into caBundle of every webhook entry; returns how many.
 * A failure policy given is set on the GPU entry only. */
export async function certgenPatch(options: PatchOptions): Promise<number> {
  const core = options.kc.makeApiClient(CoreV1Api);
  const admission = options.kc.makeApiClient(AdmissionregistrationV1Api);
  const secret = await core.readNamespacedSecret({
    namespace: options.namespace,
    name: options.secretName,
  });
  const caBundle = secret.data?.[SECRET_KEYS.caCert] ?? secret.data?.[COMPAT_KEYS.caCert];
  if (caBundle === undefined)
    throw new Error(
      `secret ${options.namespace}/${options.secretName} has no ${SECRET_KEYS.caCert}`,
    );
  return retryOnConflict(async () => {
    const config = await admission.readMutatingWebhookConfiguration({ name: options.webhookName });
    const webhooks = config.webhooks ?? [];
    for (const webhook of webhooks) {
      webhook.clientConfig.caBundle = caBundle;
      if (options.failurePolicy !== undefined && webhook.name === GPU_WEBHOOK)
        webhook.failurePolicy = options.failurePolicy;
    }
    await admission.replaceMutatingWebhookConfiguration({
      name: options.webhookName,
      body: config,
    });
    return webhooks.length;
  });
}
