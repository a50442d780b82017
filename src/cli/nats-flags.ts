// NATS connection flags shared by every command that talks to NATS. Secrets (password, token) come
// only from the environment, never from flags, so they stay out of process listings.

import type { EnvSettings } from "../config/index.js";
import type { NatsSettings } from "../events/index.js";

export const NATS_FLAGS = {
  nats: { type: "string" },
  "nats-creds": { type: "string" },
  "nats-nkey": { type: "string" },
  "nats-ca": { type: "string" },
  "nats-cert": { type: "string" },
  "nats-key": { type: "string" },
} as const;

export const NATS_USAGE = `NATS: --nats URL (or $NATS_URL), --nats-creds FILE ($NATS_CREDS), --nats-nkey SEEDFILE ($NATS_NKEY),
  --nats-ca FILE ($NATS_TLS_CA), --nats-cert FILE --nats-key FILE ($NATS_TLS_CERT, $NATS_TLS_KEY);
  user/password and token only from $NATS_USER/$NATS_PASSWORD and $NATS_TOKEN`;

export type NatsFlagValues = Partial<Record<keyof typeof NATS_FLAGS, string>>;

/** Flags override the environment field by field; undefined when no URL is given anywhere. The
 * NATS_* credentials apply whether the URL comes from --nats or NATS_URL. */
export function natsSettings(
  flags: NatsFlagValues,
  env: Pick<EnvSettings, "nats" | "natsAuth">,
): NatsSettings | undefined {
  const url = flags.nats ?? env.nats?.url;
  if (url === undefined) return undefined;
  const settings: NatsSettings = { ...env.natsAuth, url };
  if (flags["nats-creds"] !== undefined) settings.credsFile = flags["nats-creds"];
  if (flags["nats-nkey"] !== undefined) settings.nkeyFile = flags["nats-nkey"];
  if (flags["nats-ca"] !== undefined) settings.tlsCaFile = flags["nats-ca"];
  if (flags["nats-cert"] !== undefined) settings.tlsCertFile = flags["nats-cert"];
  if (flags["nats-key"] !== undefined) settings.tlsKeyFile = flags["nats-key"];
  return settings;
}
