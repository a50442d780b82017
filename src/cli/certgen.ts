// `hami certgen local`: serving certificates as files for local runs (npm run certs).

import { parseArgs } from "node:util";
import {
  DEFAULT_CA_DAYS,
  DEFAULT_KEY_BITS,
  DEFAULT_SERVING_DAYS,
  ensureLocalCerts,
} from "../certs/index.js";
import { UsageError } from "./usage.js";

export const CERTGEN_USAGE = `usage: hami certgen local [--out webhook-certs] [--host 127.0.0.1,localhost] [--ca-days ${DEFAULT_CA_DAYS}] [--days ${DEFAULT_SERVING_DAYS}] [--key-bits ${DEFAULT_KEY_BITS}]`;

function positiveInt(name: string, raw: string, min: number): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min)
    throw new UsageError(`--${name}=${raw}: must be an integer >= ${min}`);
  return value;
}

export async function runCertgen(argv: string[]): Promise<void> {
  const [mode, ...rest] = argv;
  if (mode !== "local")
    throw new UsageError(`certgen ${mode ?? ""}: unknown mode (this build has: local)`);
  const { values } = parseArgs({
    args: rest,
    options: {
      out: { type: "string", default: "webhook-certs" },
      host: { type: "string", default: "127.0.0.1,localhost" },
      "ca-days": { type: "string", default: String(DEFAULT_CA_DAYS) },
      days: { type: "string", default: String(DEFAULT_SERVING_DAYS) },
      "key-bits": { type: "string", default: String(DEFAULT_KEY_BITS) },
    },
    strict: true,
  });
  const hosts = values.host
    .split(",")
    .map((host) => host.trim())
    .filter((host) => host !== "");
  if (hosts.length === 0) throw new UsageError("--host: give at least one host name or IP");
  const result = await ensureLocalCerts({
    dir: values.out,
    hosts,
    now: new Date(),
    caDays: positiveInt("ca-days", values["ca-days"], 1),
    servingDays: positiveInt("days", values.days, 1),
    keyBits: positiveInt("key-bits", values["key-bits"], 2048),
  });
  const action = result.keepServing
    ? "kept"
    : result.keepCA
      ? "renewed serving certificate (CA kept)"
      : "generated CA and serving certificate";
  process.stdout.write(
    `certgen local: ${action} in ${result.dir} (${result.reason}); hosts ${hosts.join(",")}\n`,
  );
}
