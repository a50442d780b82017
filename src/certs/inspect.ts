// Decides whether stored certificates can be kept. Reads PEM with node:crypto so the check uses the
// same parser as the TLS stack that will serve them.

import { createPrivateKey, X509Certificate } from "node:crypto";
import type { PemPair } from "./generate.js";

export const DEFAULT_RENEW_BEFORE_DAYS = 30;
const DAY_MS = 24 * 3600 * 1000;

export interface RenewalCheck {
  /** The CA can keep signing (valid, and the key matches the certificate). */
  keepCA: boolean;
  /** The serving certificate can be kept as it is. */
  keepServing: boolean;
  reason: string;
}

function sans(cert: X509Certificate): Set<string> {
  const names = (cert.subjectAltName ?? "").split(",").map((entry) => entry.trim());
  return new Set(names.map((entry) => entry.replace(/^(DNS|IP Address):/, "")));
}

function expiresSoon(cert: X509Certificate, now: Date, renewBeforeDays: number): boolean {
  return new Date(cert.validTo).getTime() - now.getTime() < renewBeforeDays * DAY_MS;
}

function keyMatches(cert: X509Certificate, key: string | undefined): boolean {
  if (key === undefined) return false;
  try {
    return cert.checkPrivateKey(createPrivateKey(key));
  } catch {
    return false;
  }
}

function parse(pem: string | undefined): X509Certificate | undefined {
  if (pem === undefined) return undefined;
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

export interface RenewalInput {
  ca?: Partial<PemPair>;
  serving?: Partial<PemPair>;
  hosts: string[];
  now: Date;
  renewBeforeDays?: number;
}

function servingProblem(
  input: RenewalInput,
  ca: X509Certificate,
  renewBefore: number,
): string | undefined {
  const serving = parse(input.serving?.cert);
  if (serving === undefined || !keyMatches(serving, input.serving?.key)) {
    return "no serving certificate matching its key";
  }
  if (!serving.verify(ca.publicKey)) return "serving certificate not signed by the CA";
  if (expiresSoon(serving, input.now, renewBefore))
    return `serving certificate expires ${serving.validTo}`;
  const present = sans(serving);
  const missing = input.hosts.filter((host) => !present.has(host));
  if (missing.length > 0 || present.size !== new Set(input.hosts).size) {
    return `SANs changed (missing ${missing.join(",") || "none"})`;
  }
  return undefined;
}

export function checkRenewal(input: RenewalInput): RenewalCheck {
  const renewBefore = input.renewBeforeDays ?? DEFAULT_RENEW_BEFORE_DAYS;
  const ca = parse(input.ca?.cert);
  if (ca === undefined) return { keepCA: false, keepServing: false, reason: "no CA" };
  if (!ca.ca || !keyMatches(ca, input.ca?.key) || expiresSoon(ca, input.now, renewBefore)) {
    return { keepCA: false, keepServing: false, reason: "CA expires soon or is unusable" };
  }
  const problem = servingProblem(input, ca, renewBefore);
  return { keepCA: true, keepServing: problem === undefined, reason: problem ?? "valid" };
}
