// The view's device tables (core/device-table.ts), one per vendor, kept in step with the view: a
// node's row goes stale when the node changes and is written when next read; the rows of the nodes
// kube-scheduler sends are resolved once and kept while it sends the same nodes, so ranking a pod
// looks nothing up by name for a node that did not change.

import { DeviceTable, type Vendor } from "../core/index.js";

/** What the rows need of the view. */
export interface RowSource {
  known(name: string): boolean;
  /** Writes the node's row as the node is now; false when the node is not known. */
  write(table: DeviceTable, row: number, name: string): boolean;
  /** The node where a pod holds or reserved devices. */
  heldOn(uid: string): string | undefined;
  /** Milliseconds since the epoch. */
  now(): number;
}

/** Whether two lists of node names are equal. */
export function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class NodeRows {
  private readonly tables = new Map<Vendor, DeviceTable>();
  private readonly source: RowSource;
  /** Grows when a node is added or removed. */
  private epoch = 0;
  /** The rows of the nodes last sent. */
  private sent:
    { table: DeviceTable; names: readonly string[]; rows: Int32Array; epoch: number } | undefined;

  constructor(source: RowSource) {
    this.source = source;
  }

  /** The table of one vendor's devices. */
  table(vendor: Vendor): DeviceTable {
    let table = this.tables.get(vendor);
    if (table === undefined) {
      table = new DeviceTable(vendor);
      this.tables.set(vendor, table);
    }
    return table;
  }

  /** Something about the node changed (devices, Lease, the pods on it). */
  changed(name: string): void {
    for (const table of this.tables.values()) table.invalidate(name);
  }

  added(): void {
    this.epoch++;
  }

  removed(name: string): void {
    this.epoch++;
    for (const table of this.tables.values()) table.release(name);
  }

  /** For the nodes sent, by position: each one's row in `table` ready to rank now, or -1 where the
   * node takes the general path (the view's candidate): not known, unavailable, or the pod holds
   * devices there. */
  ready(table: DeviceTable, nodeNames: readonly string[], uid: string): (i: number) => number {
    const rows = this.rowsOf(table, nodeNames);
    const now = this.source.now();
    const held = table.rowOf(this.source.heldOn(uid) ?? "");
    return (i) => {
      const row = rows[i] ?? -1;
      if (row < 0 || row === held) return -1;
      if (!table.current(row) && !this.source.write(table, row, nodeNames[i] ?? "")) return -1;
      return now <= table.usableUntil(row) ? row : -1;
    };
  }

  /** Each sent node's row (-1: not known), kept while the same nodes are sent and none was added
   * or removed. */
  private rowsOf(table: DeviceTable, names: readonly string[]): Int32Array {
    const { sent } = this;
    if (sent?.table === table && sent.epoch === this.epoch && sameNames(sent.names, names))
      return sent.rows;
    const rows = new Int32Array(names.length);
    names.forEach((name, i) => {
      rows[i] = this.source.known(name) ? table.assign(name) : -1;
    });
    this.sent = { table, names, rows, epoch: this.epoch };
    return rows;
  }
}
