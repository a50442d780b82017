// NATS connection settings: server URL, credentials and TLS, gathered in one object and turned into
// nats.js ConnectionOptions at one place. Secrets are read from files or values here and never
// returned in anything that is logged (see describeNats).

import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "nats";
import type { NatsEnv } from "../config/index.js";

/** URL, credentials (user/password, token, creds file, nkey seed file) and TLS files. */
export type NatsSettings = NatsEnv;

export class NatsSettingsError extends Error {
  override readonly name = "NatsSettingsError";
}

function authCount(settings: NatsSettings): number {
  const ways = [
    settings.user ?? settings.password,
    settings.token,
    settings.credsFile,
    settings.nkeyFile,
  ];
  return ways.filter((way) => way !== undefined).length;
}

function readSecret(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new NatsSettingsError(`${what} ${path}: ${(error as Error).message}`);
  }
}

/** The nats.js options for these settings; loads the nats package (only) when called. */
export async function natsConnectionOptions(settings: NatsSettings): Promise<ConnectionOptions> {
  if (authCount(settings) > 1) {
    throw new NatsSettingsError("give one of user/password, token, creds file or nkey file");
  }
  if ((settings.tlsCertFile === undefined) !== (settings.tlsKeyFile === undefined)) {
    throw new NatsSettingsError(
      "a TLS client certificate needs both the cert file and the key file",
    );
  }
  const nats = await import("nats");
  const options: ConnectionOptions = { servers: settings.url };
  if (settings.user !== undefined || settings.password !== undefined) {
    options.authenticator = nats.usernamePasswordAuthenticator(
      settings.user ?? "",
      settings.password ?? "",
    );
  } else if (settings.token !== undefined) {
    options.authenticator = nats.tokenAuthenticator(settings.token);
  } else if (settings.credsFile !== undefined) {
    options.authenticator = nats.credsAuthenticator(readSecret(settings.credsFile, "creds file"));
  } else if (settings.nkeyFile !== undefined) {
    const seed = new TextDecoder().decode(readSecret(settings.nkeyFile, "nkey file")).trim();
    options.authenticator = nats.nkeyAuthenticator(new TextEncoder().encode(seed));
  }
  if (settings.tlsCaFile !== undefined || settings.tlsCertFile !== undefined) {
    options.tls = {
      caFile: settings.tlsCaFile,
      certFile: settings.tlsCertFile,
      keyFile: settings.tlsKeyFile,
    };
  }
  return options;
}

/** What may be logged about a connection: host and the kind of auth, never a secret. */
export function describeNats(settings: NatsSettings): {
  server: string;
  auth: string;
  tls: boolean;
} {
  let server = settings.url;
  try {
    const url = new URL(settings.url);
    server = `${url.protocol}//${url.host}`;
  } catch {
    server = "(unparsable url)";
  }
  const auth =
    settings.credsFile !== undefined
      ? "creds"
      : settings.nkeyFile !== undefined
        ? "nkey"
        : settings.token !== undefined
          ? "token"
          : settings.user !== undefined
            ? "user"
            : "none";
  return {
    server,
    auth,
    tls: settings.tlsCaFile !== undefined || settings.url.startsWith("tls://"),
  };
}
