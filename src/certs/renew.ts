// One renewal step shared by every certificate store (local files, a Kubernetes Secret): keep what
// is valid, renew the serving certificate under a still-valid CA so clients keep trusting it, and
// start a new CA only when the old one cannot sign any more.

import { generateCA, generateServing, type PemPair } from "./generate.js";
import { checkRenewal, type RenewalCheck } from "./inspect.js";

export interface StoredCertificates {
  ca?: Partial<PemPair>;
  serving?: Partial<PemPair>;
}

export interface RenewOptions {
  hosts: string[];
  now: Date;
  caDays?: number;
  servingDays?: number;
  keyBits?: number;
  renewBeforeDays?: number;
}

export type RenewResult =
  | { check: RenewalCheck; changed: false }
  | { check: RenewalCheck; changed: true; ca: PemPair; serving: PemPair };

export const CA_COMMON_NAME = "hami-webhook-ca";

export function renewCertificates(stored: StoredCertificates, options: RenewOptions): RenewResult {
  const check = checkRenewal({
    ...stored,
    hosts: options.hosts,
    now: options.now,
    renewBeforeDays: options.renewBeforeDays,
  });
  if (check.keepServing) return { check, changed: false };
  const keptCA =
    stored.ca?.cert !== undefined && stored.ca.key !== undefined
      ? { cert: stored.ca.cert, key: stored.ca.key }
      : undefined;
  const ca =
    check.keepCA && keptCA !== undefined
      ? keptCA
      : generateCA({
          commonName: CA_COMMON_NAME,
          now: options.now,
          days: options.caDays,
          keyBits: options.keyBits,
        });
  const serving = generateServing(ca, {
    hosts: options.hosts,
    now: options.now,
    days: options.servingDays,
    keyBits: options.keyBits,
  });
  return { check, changed: true, ca, serving };
}
