// Who may publish and read what on NATS (DESIGN.md section 1, trust): one user per component role,
// each allowed only the event subjects its code writes and the JetStream API calls it makes on the
// HAMI_EVENTS stream. Rendered as a nats-server `authorization` block (hami local, the chart's
// template mirrors it). Anonymous clients are refused.

import { STREAM_NAME } from "./nats-stream.js";
import { SUBJECT_PREFIX } from "./subjects.js";
import { USAGE_PREFIX, USAGE_STREAM } from "./usage.js";

export const NatsRoles = ["scheduler", "webhook", "node", "audit"] as const;
export type NatsRole = (typeof NatsRoles)[number];

export interface NatsUser {
  user: string;
  password: string;
  role: NatsRole;
}

/** Find, create or update a stream (whoever connects first creates it). */
const streamAPI = (s: string): string[] => [
  `$JS.API.STREAM.INFO.${s}`,
  `$JS.API.STREAM.CREATE.${s}`,
  `$JS.API.STREAM.UPDATE.${s}`,
];
const STREAM_API = ["$JS.API.INFO", ...streamAPI(STREAM_NAME)];
/** Durable and ephemeral pull consumers on a stream, their pulls and acks. */
const consumerAPI = (s: string): string[] => [
  `$JS.API.CONSUMER.CREATE.${s}`,
  `$JS.API.CONSUMER.CREATE.${s}.>`,
  `$JS.API.CONSUMER.DURABLE.CREATE.${s}.>`,
  `$JS.API.CONSUMER.INFO.${s}.>`,
  `$JS.API.CONSUMER.MSG.NEXT.${s}.>`,
  `$JS.API.CONSUMER.DELETE.${s}.>`,
  `$JS.ACK.${s}.>`,
];
const CONSUMER_API = consumerAPI(STREAM_NAME);
/** Reading every node's live usage (an ordered consumer on HAMI_USAGE: no acks). */
const USAGE_READ = [...streamAPI(USAGE_STREAM), ...consumerAPI(USAGE_STREAM).slice(0, -1)];
const events = (...types: string[]): string[] => types.map((t) => `${SUBJECT_PREFIX}.${t}.>`);

/** Subjects each role may publish to; every role may subscribe to its own reply inboxes only. */
export function natsPermissions(role: NatsRole): { publish: string[]; subscribe: string[] } {
  const publish: Record<NatsRole, string[]> = {
    // the extender, and the webhook when it runs in the same process (--without-webhook: not);
    // it reads the event stream and live usage for its page
    scheduler: [
      ...STREAM_API,
      ...CONSUMER_API,
      ...events("admission", "allocation"),
      ...USAGE_READ,
    ],
    // the webhook as its own service (hami webhook): admission audit events only
    webhook: [...STREAM_API, ...events("admission")],
    node: [
      ...STREAM_API,
      ...CONSUMER_API,
      ...events("allocated", "released", "node", "mismatch"),
      ...streamAPI(USAGE_STREAM),
      `${USAGE_PREFIX}.>`,
    ],
    audit: [...STREAM_API, ...CONSUMER_API, ...USAGE_READ],
  };
  return { publish: publish[role], subscribe: ["_INBOX.>"] };
}

/** A nats-server configuration `authorization` block for these users. */
export function natsAuthorization(users: readonly NatsUser[]): string {
  const list = (items: string[]): string => `[${items.map((i) => JSON.stringify(i)).join(", ")}]`;
  const entries = users.map((u) => {
    const { publish, subscribe } = natsPermissions(u.role);
    return `    { user: ${JSON.stringify(u.user)}, password: ${JSON.stringify(u.password)}, permissions: { publish: { allow: ${list(publish)} }, subscribe: { allow: ${list(subscribe)} } } }`;
  });
  return `authorization {\n  users: [\n${entries.join(",\n")}\n  ]\n}\n`;
}

/** A nats-server `tls` block: every client must speak TLS to this serving pair (clients are told
 * apart by user and password, not by certificates). */
export function natsTls(certFile: string, keyFile: string): string {
  return `tls {\n  cert_file: ${JSON.stringify(certFile)}\n  key_file: ${JSON.stringify(keyFile)}\n}\n`;
}
