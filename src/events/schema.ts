// Event schemas (DESIGN.md section 6), validated with zod on publish and on receive. Versioned so a
// consumer can reject what it does not understand instead of misreading it.

import { createHash } from "node:crypto";
import { z } from "zod";

export const EventTypes = ["admission", "allocation", "allocated", "released", "node"] as const;
export type EventType = (typeof EventTypes)[number];

const device = z.object({
  uuid: z.string().min(1),
  type: z.string().min(1),
  memoryMiB: z.number().int().nonnegative(),
  cores: z.number().int().min(0).max(100),
});

export const hamiEventSchema = z.object({
  type: z.enum(EventTypes),
  version: z.literal(1),
  time: z.iso.datetime(),
  id: z.string().min(1),
  pod: z.object({ uid: z.string(), namespace: z.string(), name: z.string() }),
  node: z.string().min(1).optional(),
  containers: z
    .array(
      z.object({
        name: z.string(),
        devices: z.array(device),
        /** The container sets CUDA_DISABLE_CONTROL=true: HAMi-core is not preloaded. */
        controlDisabled: z.boolean().optional(),
      }),
    )
    .optional(),
  reason: z.string().optional(),
  /** What the webhook changed or why it denied (admission events). */
  changes: z.array(z.string()).optional(),
});

export type HamiEvent = z.infer<typeof hamiEventSchema>;

/** Deterministic event id, used as Nats-Msg-Id: the same fact published twice is stored once. */
export function eventId(type: EventType, key: string, generation: string | number): string {
  return createHash("sha256")
    .update(`${type}\0${key}\0${String(generation)}`)
    .digest("hex")
    .slice(0, 32);
}
