// Certificates as files: the idempotent `certgen local` writer and the reloader the webhook uses so
// a renewed Secret (a volume update) takes effect without a restart.

import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { watchDirectories } from "../config/index.js";
import type { PemPair } from "./generate.js";
import type { RenewalCheck } from "./inspect.js";
import { renewCertificates, type RenewOptions } from "./renew.js";

export const FILE_NAMES = {
  caCert: "ca.crt",
  caKey: "ca.key",
  cert: "tls.crt",
  key: "tls.key",
} as const;

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

async function writeSecret(path: string, text: string): Promise<void> {
  await writeFile(path, text, { mode: 0o600 });
  await chmod(path, 0o600);
}

export interface LocalCertsOptions extends RenewOptions {
  dir: string;
}

export interface LocalCertsResult extends RenewalCheck {
  dir: string;
}

/** Writes ca.crt/ca.key/tls.crt/tls.key into dir, and NAME.crt/NAME.key for each of
 * options.leaves, keeping whatever is still valid. */
export async function ensureLocalCerts(options: LocalCertsOptions): Promise<LocalCertsResult> {
  const path = (name: string): string => join(options.dir, name);
  await mkdir(options.dir, { recursive: true });
  const [caCert, caKey, cert, key] = await Promise.all(
    [FILE_NAMES.caCert, FILE_NAMES.caKey, FILE_NAMES.cert, FILE_NAMES.key].map((name) =>
      readOptional(path(name)),
    ),
  );
  const leaves: Record<string, Partial<PemPair>> = {};
  for (const name of Object.keys(options.leaves ?? {}))
    leaves[name] = {
      cert: await readOptional(path(`${name}.crt`)),
      key: await readOptional(path(`${name}.key`)),
    };
  const result = renewCertificates(
    { ca: { cert: caCert, key: caKey }, serving: { cert, key }, leaves },
    options,
  );
  if (result.changed) {
    if (result.ca.cert !== caCert) {
      await writeSecret(path(FILE_NAMES.caKey), result.ca.key);
      await writeFile(path(FILE_NAMES.caCert), result.ca.cert);
    }
    const pairs = { tls: result.serving, ...result.leaves };
    for (const [name, pair] of Object.entries(pairs)) {
      if (pair.cert === (name === "tls" ? cert : leaves[name]?.cert)) continue;
      await writeSecret(path(`${name}.key`), pair.key);
      await writeFile(path(`${name}.crt`), pair.cert);
    }
  }
  return { ...result.check, dir: options.dir };
}

export interface CertWatcherOptions {
  certFile: string;
  keyFile: string;
  onChange: (pair: PemPair) => void;
  onError: (error: unknown) => void;
  /** Polling backstop for filesystems where watch events get lost. */
  pollMs?: number;
}

export interface CertWatcher {
  /** Reads the files now and calls onChange if they differ from the last pair seen. */
  check(): Promise<void>;
  close(): void;
}

/**
 * Watches the directories of the cert and key (Secret volumes swap a `..data` symlink, so the
 * files themselves never emit events) and reports each new, complete pair once.
 */
export function watchCertificates(options: CertWatcherOptions, initial: PemPair): CertWatcher {
  let last = initial;
  const check = async (): Promise<void> => {
    const [cert, key] = await Promise.all([
      readFile(options.certFile, "utf8"),
      readFile(options.keyFile, "utf8"),
    ]);
    if (cert === last.cert && key === last.key) return;
    options.onChange({ cert, key });
    last = { cert, key };
  };
  const run = (): void => {
    check().catch(options.onError);
  };
  // Writers replace cert and key one after the other; the debounce waits for both before reading.
  const stopWatching = watchDirectories({
    paths: [options.certFile, options.keyFile],
    onChange: run,
    onError: options.onError,
    debounceMs: 100,
  });
  const poll = setInterval(run, options.pollMs ?? 30_000);
  poll.unref();
  return {
    check,
    close: () => {
      stopWatching();
      clearInterval(poll);
    },
  };
}
