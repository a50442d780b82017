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

/** A further certificate signed by the same CA: a server's (its SANs) or a client's (its CN). */
export type LeafRequest =
  { usage: "server"; hosts: string[] } | { usage: "client"; commonName: string };

function commonName(cert: X509Certificate): string | undefined {
  return /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
}

function identityProblem(cert: X509Certificate, request: LeafRequest): string | undefined {
  if (request.usage === "client") {
    const cn = commonName(cert);
    return cn === request.commonName
      ? undefined
      : `common name ${cn ?? "none"} is not ${request.commonName}`;
  }
  const present = sans(cert);
  const missing = request.hosts.filter((host) => !present.has(host));
  if (missing.length > 0 || present.size !== new Set(request.hosts).size) {
    return `SANs changed (missing ${missing.join(",") || "none"})`;
  }
  return undefined;
}

/** Why the stored pair named `label` cannot be kept under this CA, or undefined when it can. */
export function leafProblem(
  label: string,
  pair: Partial<PemPair> | undefined,
  request: LeafRequest,
  under: { ca: X509Certificate; now: Date; renewBefore: number },
): string | undefined {
  const { ca, now, renewBefore } = under;
  const cert = parse(pair?.cert);
  if (cert === undefined || !keyMatches(cert, pair?.key)) {
    return `no ${label} certificate matching its key`;
  }
  if (!cert.verify(ca.publicKey)) return `${label} certificate not signed by the CA`;
  if (expiresSoon(cert, now, renewBefore)) return `${label} certificate expires ${cert.validTo}`;
  const problem = identityProblem(cert, request);
  return problem === undefined ? undefined : `${label} certificate: ${problem}`;
}

/** The stored CA as an X509Certificate when it can keep signing, else undefined. */
export function usableCA(
  pair: Partial<PemPair> | undefined,
  now: Date,
  renewBeforeDays: number,
): X509Certificate | undefined {
  const ca = parse(pair?.cert);
  if (ca === undefined || !ca.ca || !keyMatches(ca, pair?.key)) return undefined;
  return expiresSoon(ca, now, renewBeforeDays) ? undefined : ca;
}

export function checkRenewal(input: RenewalInput): RenewalCheck {
  const renewBefore = input.renewBeforeDays ?? DEFAULT_RENEW_BEFORE_DAYS;
  if (parse(input.ca?.cert) === undefined)
    return { keepCA: false, keepServing: false, reason: "no CA" };
  const ca = usableCA(input.ca, input.now, renewBefore);
  if (ca === undefined) {
    return { keepCA: false, keepServing: false, reason: "CA expires soon or is unusable" };
  }
  const request: LeafRequest = { usage: "server", hosts: input.hosts };
  const problem = leafProblem("serving", input.serving, request, {
    ca,
    now: input.now,
    renewBefore,
  });
  return { keepCA: true, keepServing: problem === undefined, reason: problem ?? "valid" };
}
