// Public surface of events: schemas, subjects, the EventBus seam and its two implementations.

export { DEFAULT_BUFFER, MAX_DELIVER } from "./bus.js";
export type { ConsumeOptions, Delivery, EventBus, StartAt, Subscription } from "./bus.js";
export { MemoryBus } from "./memory-bus.js";
export type { MemoryBusOptions } from "./memory-bus.js";
export { NatsBus } from "./nats-bus.js";
export type { NatsBusOptions } from "./nats-bus.js";
export { describeNats, natsConnectionOptions, NatsSettingsError } from "./nats-options.js";
export type { NatsSettings } from "./nats-options.js";
export { DEFAULT_RETENTION_MS, DUPLICATE_WINDOW_MS, STREAM_NAME } from "./nats-stream.js";
export { eventId, EventTypes, hamiEventSchema } from "./schema.js";
export type { EventType, HamiEvent } from "./schema.js";
export {
  filterSubject,
  subjectFor,
  subjectMatches,
  subjectToken,
  SUBJECT_PREFIX,
} from "./subjects.js";
export {
  formatHeader,
  formatRow,
  matchesQuery,
  parseEventType,
  parsePodRef,
  parseSince,
  QueryError,
  subjectFilterFor,
} from "./query.js";
export type { EventQuery } from "./query.js";
export { natsAuthorization, natsPermissions, NatsRoles, natsTls } from "./nats-permissions.js";
export type { NatsRole, NatsUser } from "./nats-permissions.js";
export {
  MemoryUsageBoard,
  NatsUsageBoard,
  nodeUsageSchema,
  readUsage,
  USAGE_MAX_AGE_MS,
  USAGE_PREFIX,
  USAGE_STREAM,
  usageSubject,
} from "./usage.js";
export type { UsageBoard, UsageWatch } from "./usage.js";
