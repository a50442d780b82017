// The chart's Grafana dashboard asks only for metrics hami-ts serves: every hami_* name in its
// queries is registered by the scheduler, the node agent or its monitor.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, it } from "node:test";
import { ClusterView, clusterStatus } from "../../src/scheduler/index.js";
import {
  createRegistry,
  monitorMetrics,
  nodeMetrics,
  schedulerMetrics,
} from "../../src/telemetry/index.js";

const DASHBOARD = resolve(import.meta.dirname, "../../deploy/helm/hami/dashboards/hami-ts.json");

interface Panel {
  title: string;
  targets?: { expr: string }[];
}

describe("Grafana dashboard (deploy/helm/hami/dashboards/hami-ts.json)", () => {
  it("queries only metrics the scheduler, the node agent and the node monitor register", () => {
    const registry = createRegistry(false);
    schedulerMetrics(
      registry,
      () => [],
      () => [],
      () =>
        clusterStatus(new ClusterView({ now: () => 0, registerStaleMs: 0, requireLease: false })),
    );
    nodeMetrics(registry);
    monitorMetrics(registry, () => undefined);
    const served = new Set(
      registry.getMetricsAsArray().flatMap((m) => {
        const name = m.name;
        return [name, `${name}_bucket`, `${name}_count`, `${name}_sum`];
      }),
    );
    const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as { panels: Panel[] };
    const asked = dashboard.panels.flatMap((p) =>
      (p.targets ?? []).flatMap((t) =>
        [...t.expr.matchAll(/\bhami_[a-z_]+/g)].map(([m]) => [p.title, m]),
      ),
    );
    assert.ok(asked.length > 15);
    const missing = asked.filter(([, name]) => !served.has(name ?? ""));
    assert.deepEqual(missing, []);
  });
});
