// `hami certgen local|create|patch`: the webhook's TLS material as local files (npm run certs), as
// a Secret in the cluster, and as caBundle of the MutatingWebhookConfiguration.

import { parseArgs } from "node:util";
import {
  DEFAULT_CA_DAYS,
  DEFAULT_KEY_BITS,
  DEFAULT_RENEW_BEFORE_DAYS,
  DEFAULT_SERVING_DAYS,
  ensureLocalCerts,
  type LeafRequest,
  type RenewalCheck,
  type RenewOptions,
} from "../certs/index.js";
import { loadKubeConfig } from "../k8s/index.js";
import { certgenCreate, certgenPatch, serviceHosts } from "./certgen-k8s.js";
import { UsageError } from "./usage.js";

const CRYPTO_FLAGS = `[--ca-days ${DEFAULT_CA_DAYS}] [--days ${DEFAULT_SERVING_DAYS}] [--key-bits ${DEFAULT_KEY_BITS}] [--renew-before-days ${DEFAULT_RENEW_BEFORE_DAYS}]`;

export const CERTGEN_USAGE = `usage: hami certgen local [--out webhook-certs] [--host 127.0.0.1,localhost] ${CRYPTO_FLAGS}
       hami certgen create --namespace NS --service SVC --secret-name NAME [--host extra,...] [--kubeconfig FILE] ${CRYPTO_FLAGS}
                           [--server NAME=SERVICE]... [--client NAME=COMMON_NAME]...
         --server/--client add a serving pair for SERVICE's names, or a client pair, under the same
         CA, stored in the Secret as NAME.crt and NAME.key (e.g. --server nats=hami-nats)
       hami certgen patch --webhook-name NAME --secret-name NAME --namespace NS [--failure-policy Fail|Ignore] [--kubeconfig FILE]`;

const OPTIONS = {
  out: { type: "string", default: "webhook-certs" },
  host: { type: "string" },
  server: { type: "string", multiple: true },
  client: { type: "string", multiple: true },
  namespace: { type: "string" },
  service: { type: "string" },
  "secret-name": { type: "string" },
  "webhook-name": { type: "string" },
  "failure-policy": { type: "string" },
  kubeconfig: { type: "string" },
  "ca-days": { type: "string", default: String(DEFAULT_CA_DAYS) },
  days: { type: "string", default: String(DEFAULT_SERVING_DAYS) },
  "key-bits": { type: "string", default: String(DEFAULT_KEY_BITS) },
  "renew-before-days": { type: "string", default: String(DEFAULT_RENEW_BEFORE_DAYS) },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; strict: true }>>["values"];

function integer(name: string, raw: string, min: number): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min)
    throw new UsageError(`--${name}=${raw}: must be an integer >= ${min}`);
  return value;
}

function required(
  values: Values,
  name: "namespace" | "service" | "secret-name" | "webhook-name",
): string {
  const value = values[name];
  if (value === undefined || value === "") throw new UsageError(`--${name} is required`);
  return value;
}

function hostList(raw: string | undefined): string[] {
  return (raw ?? "")
    .split(",")
    .map((host) => host.trim())
    .filter((host) => host !== "");
}

function renewOptions(values: Values, hosts: string[]): RenewOptions {
  return {
    hosts,
    now: new Date(),
    caDays: integer("ca-days", values["ca-days"], 1),
    servingDays: integer("days", values.days, 1),
    keyBits: integer("key-bits", values["key-bits"], 2048),
    renewBeforeDays: integer("renew-before-days", values["renew-before-days"], 0),
  };
}

function describe(check: RenewalCheck, written: boolean): string {
  if (!written) return "kept";
  if (check.keepServing) return "issued further certificates (CA and serving certificate kept)";
  return check.keepCA
    ? "renewed serving certificate (CA kept)"
    : "generated CA and serving certificate";
}

async function local(values: Values): Promise<string> {
  const hosts = hostList(values.host ?? "127.0.0.1,localhost");
  if (hosts.length === 0) throw new UsageError("--host: give at least one host name or IP");
  const result = await ensureLocalCerts({ dir: values.out, ...renewOptions(values, hosts) });
  return `certgen local: ${describe(result, !result.keepServing)} in ${result.dir} (${result.reason}); hosts ${hosts.join(",")}`;
}

const RESERVED_LEAVES = new Set(["tls", "ca", "cert", "key"]);

/** --server NAME=SERVICE and --client NAME=COMMON_NAME into named leaf requests. */
function leafRequests(values: Values, namespace: string): Record<string, LeafRequest> {
  const leaves: Record<string, LeafRequest> = {};
  const add = (flag: "server" | "client", raw: string): void => {
    const [name = "", value = ""] = raw.split("=", 2);
    if (!/^[a-z][a-z0-9-]{0,30}$/.test(name) || RESERVED_LEAVES.has(name) || name in leaves)
      throw new UsageError(
        `--${flag}=${raw}: NAME must be a new lower-case name (letters, digits, -), not ${[...RESERVED_LEAVES].join("/")}`,
      );
    if (value === "")
      throw new UsageError(
        `--${flag}=${raw}: give NAME=${flag === "server" ? "SERVICE" : "COMMON_NAME"}`,
      );
    leaves[name] =
      flag === "server"
        ? { usage: "server", hosts: serviceHosts(value, namespace, []) }
        : { usage: "client", commonName: value };
  };
  for (const raw of values.server ?? []) add("server", raw);
  for (const raw of values.client ?? []) add("client", raw);
  return leaves;
}

async function create(values: Values): Promise<string> {
  const namespace = required(values, "namespace");
  const secretName = required(values, "secret-name");
  const hosts = serviceHosts(required(values, "service"), namespace, hostList(values.host));
  const leaves = leafRequests(values, namespace);
  const kc = loadKubeConfig(values.kubeconfig);
  const result = await certgenCreate({
    kc,
    namespace,
    secretName,
    ...renewOptions(values, hosts),
    leaves,
  });
  return `certgen create: secret ${namespace}/${secretName} ${describe(result, result.written)} (${result.reason}); hosts ${hosts.join(",")}${Object.keys(
    leaves,
  )
    .map((name) => `; ${name}.crt`)
    .join("")}`;
}

async function patch(values: Values): Promise<string> {
  const policy = values["failure-policy"];
  if (policy !== undefined && policy !== "Fail" && policy !== "Ignore") {
    throw new UsageError(`--failure-policy=${policy}: must be Fail or Ignore`);
  }
  const namespace = required(values, "namespace");
  const secretName = required(values, "secret-name");
  const webhookName = required(values, "webhook-name");
  const kc = loadKubeConfig(values.kubeconfig);
  const count = await certgenPatch({
    kc,
    namespace,
    secretName,
    webhookName,
    failurePolicy: policy,
  });
  return `certgen patch: caBundle from ${namespace}/${secretName} written to ${count} webhook(s) of ${webhookName}`;
}

const MODES: Record<string, (values: Values) => Promise<string>> = { local, create, patch };

export async function runCertgen(argv: string[]): Promise<void> {
  const [mode, ...rest] = argv;
  const run = mode === undefined ? undefined : MODES[mode];
  if (run === undefined)
    throw new UsageError(`certgen ${mode ?? ""}: unknown mode (local, create, patch)`);
  const { values } = parseArgs({ args: rest, options: OPTIONS, strict: true });
  process.stdout.write(`${await run(values)}\n`);
}
