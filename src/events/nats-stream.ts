// The HAMI_EVENTS stream: created or updated to the configured retention by whoever connects first
// (publisher or consumer), so neither depends on the other having started.

import type { NatsConnection } from "nats";
import { SUBJECT_PREFIX } from "./subjects.js";

export const STREAM_NAME = "HAMI_EVENTS";
export const DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000; // 7 days
export const DUPLICATE_WINDOW_MS = 2 * 60 * 1000; // 2 minutes
const NS_PER_MS = 1_000_000; // JetStream durations are nanoseconds

export async function ensureStream(
  nc: NatsConnection,
  retentionMs = DEFAULT_RETENTION_MS,
): Promise<void> {
  const jsm = await nc.jetstreamManager();
  const config = {
    subjects: [`${SUBJECT_PREFIX}.>`],
    max_age: retentionMs * NS_PER_MS,
    duplicate_window: DUPLICATE_WINDOW_MS * NS_PER_MS,
  };
  const existing = await jsm.streams.info(STREAM_NAME).catch(() => undefined);
  if (existing) await jsm.streams.update(STREAM_NAME, config);
  else await jsm.streams.add({ name: STREAM_NAME, ...config });
}
