// Loading configuration: from a YAML/JSON file (either the bare config document or a whole
// ConfigMap manifest) or from a ConfigMap's data. The only module that reads process.env.

import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { preview } from "../core/index.js";
import { configSchema, nvidiaSchema, type Config } from "./schema.js";

/** The ConfigMap data keys HAMi's chart uses for the device config, in the order we try them. */
export const CONFIGMAP_KEYS = ["device-config.yaml", "config.yaml"] as const;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly problems: string[];
  constructor(source: string, problems: string[]) {
    super(`invalid configuration in ${source}:\n  ${problems.join("\n  ")}`);
    this.problems = problems;
  }
}

export interface LoadedConfig {
  config: Config;
  /** Non-fatal findings (unknown fields), to be logged once at startup. */
  warnings: string[];
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let current = input;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** One line per zod issue: the field path, the value found there, and what is wrong with it. */
export function describeIssues(issues: z.core.$ZodIssue[], input: unknown): string[] {
  const describe = (path: PropertyKey[], message: string): string => {
    const value = valueAt(input, path);
    const shown = value === undefined ? "missing" : preview(value);
    return `${path.map(String).join(".") || "(root)"}=${shown}: ${message}`;
  };
  return issues.flatMap((issue) =>
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => describe([...issue.path, key], "unknown field"))
      : [describe(issue.path, issue.message)],
  );
}

/** Other spellings of nvidia fields: the seed's and the design card's `defaultMem`, and HAMi's own
 * `disableCoreLimit` (pkg/device/nvidia/device.go) next to the older `disablecorelimit`. */
export const CONFIG_ALIASES: Readonly<Record<string, string>> = {
  defaultMem: "defaultMemory",
  disableCoreLimit: "disablecorelimit",
};

const SECTIONS = new Set(["nvidia", "scheduler"]);

/** Maps aliases onto their field; an alias and its field both set to different values is an error. */
function resolveAliases(document: unknown): { document: unknown; problems: string[] } {
  const nvidia = valueAt(document, ["nvidia"]);
  if (nvidia === null || typeof nvidia !== "object" || Array.isArray(nvidia))
    return { document, problems: [] };
  const given = nvidia as Record<string, unknown>;
  const fields = Object.fromEntries(
    Object.entries(given).filter(([key]) => !(key in CONFIG_ALIASES)),
  );
  const problems: string[] = [];
  for (const [alias, field] of Object.entries(CONFIG_ALIASES)) {
    if (!(alias in given)) continue;
    const value = given[alias];
    if (field in fields && JSON.stringify(fields[field]) !== JSON.stringify(value)) {
      problems.push(
        `nvidia.${alias}=${JSON.stringify(value)} and nvidia.${field}=${JSON.stringify(fields[field])}: both set and different (${alias} is another name for ${field}); keep one`,
      );
      continue;
    }
    fields[field] = value;
  }
  return { document: { ...(document as object), nvidia: fields }, problems };
}

function unknownFields(input: unknown): string[] {
  const known = new Set(Object.keys(nvidiaSchema.shape));
  const nvidia = valueAt(input, ["nvidia"]);
  if (nvidia === null || typeof nvidia !== "object") return [];
  return Object.keys(nvidia)
    .filter((key) => !known.has(key))
    .map((key) => `unknown field nvidia.${key} ignored (check the spelling)`);
}

/** HAMi settings we accept but do not apply, and other vendors' sections: one warning. */
function ignoredSettings(input: unknown, config: Config): string[] {
  const { nvidia } = config;
  const ignored = [
    ...(nvidia.preConfiguredDeviceMemory > 0 ? ["nvidia.preConfiguredDeviceMemory"] : []),
    ...(nvidia.enableNumaTopology ? ["nvidia.enableNumaTopology"] : []),
    ...(nvidia.knownMigGeometries.length > 0
      ? ["nvidia.knownMigGeometries (deprecated by HAMi; the MIG instances that exist are offered)"]
      : []),
  ];
  const sections =
    input !== null && typeof input === "object"
      ? Object.keys(input).filter((k) => !SECTIONS.has(k))
      : [];
  if (sections.length > 0) ignored.push(`other vendors' sections (${sections.join(", ")})`);
  return ignored.length === 0
    ? []
    : [
        `accepted but not applied by hami-ts (NVIDIA through HAMi-core only): ${ignored.join("; ")}`,
      ];
}

/** Validates a parsed config document; throws ConfigError naming every bad field and value. */
export function parseConfig(input: unknown, source: string): LoadedConfig {
  const { document, problems } = resolveAliases(input ?? {});
  const result = configSchema.safeParse(document);
  if (!result.success || problems.length > 0)
    throw new ConfigError(source, [
      ...problems,
      ...(result.success ? [] : describeIssues(result.error.issues, document)),
    ]);
  return {
    config: result.data,
    warnings: [...unknownFields(document), ...ignoredSettings(document, result.data)],
  };
}

function parseText(text: string, source: string): unknown {
  try {
    return parseYaml(text) as unknown;
  } catch (error) {
    throw new ConfigError(source, [`not valid YAML/JSON: ${(error as Error).message}`]);
  }
}

/** Config from a ConfigMap's `data` (the `device-config.yaml` key, as HAMi's chart writes it). */
export function configFromConfigMapData(
  data: Record<string, string> | undefined,
  source: string,
): LoadedConfig {
  const key = CONFIGMAP_KEYS.find((candidate) => data?.[candidate] !== undefined);
  if (key === undefined || data === undefined) {
    throw new ConfigError(source, [`data has none of the keys ${CONFIGMAP_KEYS.join(", ")}`]);
  }
  const text = data[key] ?? "";
  return parseConfig(parseText(text, `${source} data[${key}]`), `${source} data[${key}]`);
}

function isConfigMap(
  document: unknown,
): document is { kind: "ConfigMap"; data?: Record<string, string> } {
  return valueAt(document, ["kind"]) === "ConfigMap";
}

/** Loads a config file: the bare document, or a ConfigMap manifest holding it. */
export async function loadConfigFile(path: string): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ConfigError(path, [`cannot read: ${(error as Error).message}`]);
  }
  const document = parseText(text, path);
  if (isConfigMap(document)) return configFromConfigMapData(document.data, path);
  return parseConfig(document, path);
}

/** Defaults only: what a run without --config uses. */
export function defaultConfig(): Config {
  return configSchema.parse({});
}

/** NATS connection settings (events names this type NatsSettings; flags can override it). */
export interface NatsEnv {
  url: string;
  user?: string;
  password?: string;
  token?: string;
  /** A .creds file (JWT + nkey seed). */
  credsFile?: string;
  /** A file holding an nkey user seed (SU...). */
  nkeyFile?: string;
  /** CA bundle that signs the server certificate. */
  tlsCaFile?: string;
  /** Client certificate and key for mutual TLS. */
  tlsCertFile?: string;
  tlsKeyFile?: string;
}

/** Settings that come from the environment (the only env reads in the project outside cli/). */
export interface EnvSettings {
  /** Present when NATS_URL is set. */
  nats?: NatsEnv;
  /** The NATS_* credential and TLS variables, also when the URL comes from a flag. */
  natsAuth: Omit<NatsEnv, "url">;
  logLevel: string;
}

const NATS_VARIABLES = {
  user: "NATS_USER",
  password: "NATS_PASSWORD",
  token: "NATS_TOKEN",
  credsFile: "NATS_CREDS",
  nkeyFile: "NATS_NKEY",
  tlsCaFile: "NATS_TLS_CA",
  tlsCertFile: "NATS_TLS_CERT",
  tlsKeyFile: "NATS_TLS_KEY",
} as const;

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

export function readEnv(env: NodeJS.ProcessEnv = process.env): EnvSettings {
  const url = nonEmpty(env.NATS_URL);
  const logLevel = env.LOG_LEVEL ?? "info";
  const natsAuth: Omit<NatsEnv, "url"> = {};
  for (const [field, variable] of Object.entries(NATS_VARIABLES) as [
    keyof typeof NATS_VARIABLES,
    string,
  ][]) {
    const value = nonEmpty(env[variable]);
    if (value !== undefined) natsAuth[field] = value;
  }
  if (url === undefined) return { natsAuth, logLevel };
  return { nats: { url, ...natsAuth }, natsAuth, logLevel };
}
