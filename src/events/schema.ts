// Event schemas (DESIGN.md section 6), validated with zod on publish and on receive. Versioned so a
// consumer can reject what it does not understand instead of misreading it.

import { createHash } from "node:crypto";
import { z } from "zod";
import { DNS_LABEL_PATTERN, POD_UID_PATTERN } from "../core/index.js";

export const EventTypes = [
  "admission",
  "allocation",
  "allocated",
  "released",
  "node",
  "mismatch",
] as const;
export type EventType = (typeof EventTypes)[number];

// Every field is bounded: an event is a hint from the network, and its names may end up in logs,
// subjects and (never unchecked) host paths. Kubernetes' own rules for names (DNS-1123).
const dnsLabel = z.string().max(63).regex(DNS_LABEL_PATTERN, "must be a DNS-1123 label");
const dnsSubdomain = z
  .string()
  .max(253)
  .regex(
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    "must be a DNS-1123 subdomain",
  );
const podUid = z.string().regex(POD_UID_PATTERN, "must be a UUID");

const device = z.object({
  uuid: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,127}$/, "must be a GPU UUID"),
  type: z.string().min(1).max(64),
  memoryMiB: z
    .number()
    .int()
    .nonnegative()
    .max(2 ** 31 - 1),
  cores: z.number().int().min(0).max(100),
});

/** Admission events may name a pod that has no uid or name yet (generateName). */
const admissionPod = z.object({
  uid: z.union([z.literal(""), podUid]),
  namespace: dnsLabel,
  name: z.string().max(253),
});
const placedPod = z.object({ uid: podUid, namespace: dnsLabel, name: dnsSubdomain });

export const hamiEventSchema = z
  .object({
    type: z.enum(EventTypes),
    version: z.literal(1),
    time: z.iso.datetime(),
    id: z.string().min(1).max(128),
    pod: admissionPod,
    node: dnsSubdomain.optional(),
    containers: z
      .array(
        z.object({
          name: dnsLabel,
          devices: z.array(device).max(64),
          /** The container sets CUDA_DISABLE_CONTROL: HAMi-core is not preloaded. */
          controlDisabled: z.boolean().optional(),
        }),
      )
      .max(64)
      .optional(),
    reason: z.string().max(1024).optional(),
    /** What the webhook changed or why it denied (admission events). */
    changes: z.array(z.string().max(4096)).max(256).optional(),
  })
  .superRefine((event, ctx) => {
    if (event.type === "admission") return;
    const placed = placedPod.safeParse(event.pod);
    if (!placed.success)
      for (const issue of placed.error.issues)
        ctx.addIssue({ code: "custom", path: ["pod", ...issue.path], message: issue.message });
  });

export type HamiEvent = z.infer<typeof hamiEventSchema>;

/** Deterministic event id, used as Nats-Msg-Id: the same fact published twice is stored once. */
export function eventId(type: EventType, key: string, generation: string | number): string {
  return createHash("sha256")
    .update(`${type}\0${key}\0${String(generation)}`)
    .digest("hex")
    .slice(0, 32);
}
