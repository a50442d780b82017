// The part of a Pod that hami decisions read, as a zod schema shared by every adapter that receives
// pods from the network (the webhook's AdmissionReview, the extender's ExtenderArgs). Unknown fields
// are kept (loose objects): a patch is a diff against what was received, so nothing may be dropped.

import { z } from "zod";

const quantity = z.union([z.string().max(64), z.number()]);
const resourceList = z.record(z.string().max(253), quantity);

const container = z.looseObject({
  name: z.string().min(1).max(253),
  resources: z
    .looseObject({ limits: resourceList.optional(), requests: resourceList.optional() })
    .optional(),
  env: z.array(z.looseObject({ name: z.string().min(1), value: z.string().optional() })).optional(),
  securityContext: z.looseObject({ privileged: z.boolean().optional() }).nullable().optional(),
});

const stringMap = z.record(z.string(), z.string());

export const podSchema = z.looseObject({
  metadata: z
    .looseObject({
      name: z.string().optional(),
      generateName: z.string().optional(),
      namespace: z.string().optional(),
      uid: z.string().optional(),
      labels: stringMap.optional(),
      annotations: stringMap.optional(),
    })
    .optional(),
  spec: z.looseObject({
    containers: z.array(container).min(1),
    initContainers: z.array(container).nullish(),
    schedulerName: z.string().optional(),
    nodeName: z.string().optional(),
    runtimeClassName: z.string().optional(),
  }),
});
