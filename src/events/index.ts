// Public surface of events: schemas, the EventBus seam and its two implementations.

export type { EventBus } from "./bus.js";
export { DEFAULT_BUFFER } from "./bus.js";
export { MemoryBus } from "./memory-bus.js";
export type { MemoryBusOptions, Subscriber } from "./memory-bus.js";
export { DEFAULT_RETENTION_MS, DUPLICATE_WINDOW_MS, NatsBus, STREAM_NAME } from "./nats-bus.js";
export type { NatsBusOptions } from "./nats-bus.js";
export { eventId, EventTypes, hamiEventSchema, subjectFor, SUBJECT_PREFIX } from "./schema.js";
export type { EventType, HamiEvent } from "./schema.js";
