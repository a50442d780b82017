// Reads and validates one container's GPU resources. Limits are authoritative (extended resources
// cannot be overcommitted); a value only in requests counts too; differing values are an error.

import { HamiError } from "./errors.js";
import { parseQuantity } from "./quantity.js";
import { Reason } from "./reasons.js";
import type { Container, ContainerGPURequest, QuantityValue, ResourceNames } from "./types.js";

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
      bounds.max === Number.MAX_SAFE_INTEGER ? `>= ${bounds.min}` : `${bounds.min}..${bounds.max}`;
    throw new HamiError(bounds.reason, field, raw, `${bounds.what} must be an integer ${range}`);
  }
  return value;
}

export interface RequestLimits {
  /** The largest GPU count one container may ask for (no node has more). */
  maxGPUCount: number;
}

/** The validated GPU request of a container; `prefix` names it in errors (e.g. spec.containers[0]). */
export function readContainerRequest(
  container: Container,
  names: ResourceNames,
  limits: RequestLimits,
  prefix: string,
): ContainerGPURequest {
  const max = Number.MAX_SAFE_INTEGER;
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
      { min: 1, max, reason: Reason.InvalidGPUMemory, what: "GPU memory (MiB)" },
      prefix,
    ),
    memoryPercentage: readInteger(
      container,
      names.memoryPercentage,
      {
        min: 1,
        max: 100,
        reason: Reason.InvalidGPUMemoryPercentage,
        what: "GPU memory percentage",
      },
      prefix,
    ),
    cores: readInteger(
      container,
      names.cores,
      { min: 0, max: 100, reason: Reason.InvalidGPUCores, what: "GPU cores percentage" },
      prefix,
    ),
    priority: readInteger(
      container,
      names.priority,
      { min: 0, max: 1, reason: Reason.InvalidPriority, what: "GPU task priority (0 high, 1 low)" },
      prefix,
    ),
  };
  if (request.count !== undefined && request.count > limits.maxGPUCount) {
    throw new HamiError(
      Reason.GPUCountTooLarge,
      `${prefix}.resources.limits[${names.count}]`,
      request.count,
      `no node offers more than ${limits.maxGPUCount} GPUs to one container (config scheduler.maxGPUCount)`,
    );
  }
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
