// One renewal step shared by every certificate store (local files, a Kubernetes Secret): keep what
// is valid, renew the serving certificate under a still-valid CA so clients keep trusting it, and
// start a new CA only when the old one cannot sign any more.

import { generateCA, generateClient, generateServing, type PemPair } from "./generate.js";
import {
  checkRenewal,
  DEFAULT_RENEW_BEFORE_DAYS,
  leafProblem,
  usableCA,
  type LeafRequest,
  type RenewalCheck,
} from "./inspect.js";

export interface StoredCertificates {
  ca?: Partial<PemPair>;
  serving?: Partial<PemPair>;
  /** Further pairs signed by the same CA, by name (see RenewOptions.leaves). */
  leaves?: Record<string, Partial<PemPair>>;
}

export interface RenewOptions {
  hosts: string[];
  now: Date;
  caDays?: number;
  servingDays?: number;
  keyBits?: number;
  renewBeforeDays?: number;
  /** Further certificates under the same CA: NATS's serving pair, kube-scheduler's client pair. */
  leaves?: Record<string, LeafRequest>;
}

export type RenewResult =
  | { check: RenewalCheck; changed: false }
  | {
      check: RenewalCheck;
      changed: true;
      ca: PemPair;
      serving: PemPair;
      leaves: Record<string, PemPair>;
    };

export const CA_COMMON_NAME = "hami-webhook-ca";

function newCA(options: RenewOptions): PemPair {
  return generateCA({
    commonName: CA_COMMON_NAME,
    now: options.now,
    days: options.caDays,
    keyBits: options.keyBits,
  });
}

function issueLeaf(ca: PemPair, request: LeafRequest, options: RenewOptions): PemPair {
  const common = { now: options.now, days: options.servingDays, keyBits: options.keyBits };
  return request.usage === "server"
    ? generateServing(ca, { ...common, hosts: request.hosts })
    : generateClient(ca, { ...common, commonName: request.commonName });
}

/** Names of the stored leaves that cannot be kept under the stored CA, each with its reason. */
function leafProblems(stored: StoredCertificates, options: RenewOptions): Map<string, string> {
  const renewBefore = options.renewBeforeDays ?? DEFAULT_RENEW_BEFORE_DAYS;
  const ca = usableCA(stored.ca, options.now, renewBefore);
  const problems = new Map<string, string>();
  for (const [name, request] of Object.entries(options.leaves ?? {})) {
    const problem =
      ca === undefined
        ? "new CA"
        : leafProblem(name, stored.leaves?.[name], request, {
            ca,
            now: options.now,
            renewBefore,
          });
    if (problem !== undefined) problems.set(name, problem);
  }
  return problems;
}

/** The stored pair when `keep` and complete, else a new one from `issue`. */
function keptOr(
  keep: boolean,
  stored: Partial<PemPair> | undefined,
  issue: () => PemPair,
): PemPair {
  return keep && stored?.cert !== undefined && stored.key !== undefined
    ? { cert: stored.cert, key: stored.key }
    : issue();
}

export function renewCertificates(stored: StoredCertificates, options: RenewOptions): RenewResult {
  const servingCheck = checkRenewal({
    ...stored,
    hosts: options.hosts,
    now: options.now,
    renewBeforeDays: options.renewBeforeDays,
  });
  const problems = leafProblems(stored, options);
  const check: RenewalCheck =
    problems.size === 0 || !servingCheck.keepServing
      ? servingCheck
      : { ...servingCheck, reason: [...problems.values()].join("; ") };
  if (servingCheck.keepServing && problems.size === 0) return { check, changed: false };
  const ca = keptOr(check.keepCA, stored.ca, () => newCA(options));
  const serving = keptOr(check.keepServing, stored.serving, () =>
    issueLeaf(ca, { usage: "server", hosts: options.hosts }, options),
  );
  const leaves: Record<string, PemPair> = {};
  for (const [name, request] of Object.entries(options.leaves ?? {}))
    leaves[name] = keptOr(!problems.has(name), stored.leaves?.[name], () =>
      issueLeaf(ca, request, options),
    );
  return { check, changed: true, ca, serving, leaves };
}
