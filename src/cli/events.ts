// `hami events`: the audit history and/or live tail of the HAMI_EVENTS stream, filtered, as a table
// or JSON lines.

import { parseArgs } from "node:util";
import { readEnv } from "../config/index.js";
import {
  describeNats,
  formatHeader,
  formatRow,
  matchesQuery,
  NatsBus,
  parseEventType,
  parsePodRef,
  parseSince,
  subjectFilterFor,
  type EventQuery,
  type StartAt,
} from "../events/index.js";
import { createLogger } from "../telemetry/index.js";
import { NATS_FLAGS, NATS_USAGE, natsSettings } from "./nats-flags.js";
import { UsageError } from "./usage.js";

export const EVENTS_USAGE = `usage: hami events [--follow] [--since 1h] [--namespace N] [--pod NS/NAME] [--node NODE] [--type T] [--json]
  without --follow: prints the history (from --since, or all kept) and exits
  with --follow: prints new events (after the history from --since, if given) until interrupted
  ${NATS_USAGE}`;

function parse(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      follow: { type: "boolean", short: "f", default: false },
      since: { type: "string" },
      namespace: { type: "string", short: "n" },
      pod: { type: "string" },
      node: { type: "string" },
      type: { type: "string" },
      json: { type: "boolean", default: false },
      ...NATS_FLAGS,
    },
    strict: true,
  });
  const query: EventQuery = {};
  if (values.type !== undefined) query.type = parseEventType(values.type);
  if (values.namespace !== undefined) query.namespace = values.namespace;
  if (values.pod !== undefined) query.pod = parsePodRef(values.pod);
  if (values.node !== undefined) query.node = values.node;
  let start: StartAt = values.follow ? { kind: "new" } : { kind: "all" };
  if (values.since !== undefined)
    start = { kind: "time", time: parseSince(values.since, new Date()) };
  return { query, start, follow: values.follow, json: values.json, natsFlags: values };
}

/** NATS could not be reached or refused us: the message names the server, auth and TLS used. */
export class EventsError extends Error {
  override name = "EventsError";
}

export async function runEvents(argv: string[]): Promise<void> {
  const options = parse(argv);
  const env = readEnv();
  const nats = natsSettings(options.natsFlags, env);
  if (nats === undefined)
    throw new UsageError("hami events needs NATS: give --nats URL or set NATS_URL");
  const log = createLogger({
    level: env.logLevel === "info" ? "warn" : env.logLevel,
    destination: process.stderr,
  });
  const bus = await NatsBus.start({ nats, log, failFast: true }).catch((error: unknown) => {
    const { server, auth, tls } = describeNats(nats);
    const why = error instanceof Error ? error.message : String(error);
    throw new EventsError(
      `hami events: cannot read events from NATS at ${server} (auth ${auth}, tls ${tls}): ${why}`,
    );
  });
  const write = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  if (!options.json) write(formatHeader());
  const subscription = bus.consume({
    filter: subjectFilterFor(options.query),
    start: options.start,
    handler: (event) => {
      if (matchesQuery(event, options.query))
        write(options.json ? JSON.stringify(event) : formatRow(event));
    },
  });
  const finish = async (): Promise<void> => {
    await subscription.stop();
    await bus.close(0);
  };
  if (!options.follow) {
    await subscription.caughtUp;
    await finish();
    return;
  }
  await subscription.caughtUp;
  process.stderr.write("hami events: following new events; Ctrl-C stops\n");
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      void finish().then(resolve);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
