// Reads and validates one container's GPU resources. Limits are authoritative (extended resources
// cannot be overcommitted); a value only in requests counts too; differing values are an error.
// Bounds are HAMi's: what its webhook admits we admit (0 = unset for memory, cores above 100 are
// clamped, any int32 priority); only a percentage outside 0..100 is refused, as HAMi's
// validateMemoryPercentage does.

import { HamiError } from "./errors.js";
import { parseQuantity } from "./quantity.js";
import { Reason } from "./reasons.js";
import type { Container, ContainerGPURequest, QuantityValue, ResourceNames } from "./types.js";

const INT32_MAX = 2 ** 31 - 1;

interface Bounds {
  min: number;
  max: number;
  reason: Reason;
  what: string;
}

function readRaw(container: Container, name: string, field: string): QuantityValue | undefined {
  const limit = container.resources?.limits?.[name];
  const request = container.resources?.requests?.[name];
  if (limit !== undefined && request !== undefined && String(limit) !== String(request)) {
    const parsedLimit = parseQuantity(limit);
    if (parsedLimit === undefined || parsedLimit !== parseQuantity(request)) {
      throw new HamiError(
        Reason.RequestLimitMismatch,
        field,
        { limits: limit, requests: request },
        "requests and limits of an extended resource must be equal",
      );
    }
  }
  return limit ?? request;
}

function readInteger(container: Container, name: string, bounds: Bounds, prefix: string) {
  const field = `${prefix}.resources.limits[${name}]`;
  const raw = readRaw(container, name, field);
  if (raw === undefined) return undefined;
  const value = parseQuantity(raw);
  if (value === undefined) {
    throw new HamiError(Reason.InvalidQuantity, field, raw, "not a Kubernetes quantity");
  }
  if (!Number.isInteger(value) || value < bounds.min || value > bounds.max) {
    const range =
      bounds.max === INT32_MAX ? `${bounds.min}..${INT32_MAX}` : `${bounds.min}..${bounds.max}`;
    throw new HamiError(bounds.reason, field, raw, `${bounds.what} must be an integer ${range}`);
  }
  return value;
}

/** The validated GPU request of a container; `prefix` names it in errors (e.g. spec.containers[0]). */
export function readContainerRequest(
  container: Container,
  names: ResourceNames,
  prefix: string,
): ContainerGPURequest {
  const max = INT32_MAX;
  const request: ContainerGPURequest = {
    count: readInteger(
      container,
      names.count,
      { min: 0, max, reason: Reason.InvalidGPUCount, what: "GPU count" },
      prefix,
    ),
    memoryMiB: readInteger(
      container,
      names.memory,
      { min: 0, max, reason: Reason.InvalidGPUMemory, what: "GPU memory (MiB)" },
      prefix,
    ),
    memoryPercentage: readInteger(
      container,
      names.memoryPercentage,
      {
        min: 0,
        max: 100,
        reason: Reason.InvalidGPUMemoryPercentage,
        what: "GPU memory percentage",
      },
      prefix,
    ),
    cores: readInteger(
      container,
      names.cores,
      { min: 0, max, reason: Reason.InvalidGPUCores, what: "GPU cores percentage" },
      prefix,
    ),
    priority: readInteger(
      container,
      names.priority,
      { min: -INT32_MAX - 1, max, reason: Reason.InvalidPriority, what: "GPU task priority" },
      prefix,
    ),
  };
  return request;
}

/** True when the container asks for any GPU resource (a zero count alone is no request). */
export function asksForGPU(request: ContainerGPURequest): boolean {
  return (
    (request.count !== undefined && request.count > 0) ||
    request.memoryMiB !== undefined ||
    request.memoryPercentage !== undefined ||
    request.cores !== undefined
  );
}
