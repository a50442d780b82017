// Leader election over a Lease, the decision part (the way client-go's leaderelection decides):
// expiry is measured on the candidate's own clock from when it last saw the record change, never
// from the renew time another machine wrote, so clock skew between replicas does not matter.

/** What a candidate saw of the Lease: its holder and a token that changes on every write. */
export interface LeaseRecord {
  holder: string;
  version: string;
}

export type LeaseStep =
  | { kind: "create" }
  | { kind: "renew" }
  | { kind: "take"; from: string }
  | { kind: "follow"; holder: string; expiresInMs: number };

export interface LeaseView {
  /** undefined: there is no Lease yet. */
  record: LeaseRecord | undefined;
  identity: string;
  /** When this candidate last saw the record change (its own clock). */
  observedAtMs: number;
  nowMs: number;
  durationMs: number;
}

export function leaseStep(view: LeaseView): LeaseStep {
  const { record } = view;
  if (record === undefined) return { kind: "create" };
  if (record.holder === view.identity) return { kind: "renew" };
  const expiresInMs = view.observedAtMs + view.durationMs - view.nowMs;
  if (record.holder === "" || expiresInMs <= 0) return { kind: "take", from: record.holder };
  return { kind: "follow", holder: record.holder, expiresInMs };
}
