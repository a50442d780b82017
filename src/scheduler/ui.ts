// The extender's live view as data (GET /ui/state) and a small page that draws it (GET /ui): a
// cluster summary line, one card per GPU with what is booked and what the node monitor says is
// really used (per pod: used vs its limit), the pending GPU pods with why they wait, and the last
// audit events; refreshed every second.

import {
  clusterSummary,
  migFree,
  migSliceText,
  NO_USAGE,
  type ClusterStatus,
  type GpuUsage,
  type NodeUsage,
} from "../core/index.js";
import type { HamiEvent } from "../events/index.js";
import type { LiveUsage, RecentEvents } from "./live.js";
import type { ClusterView, Holding } from "./view.js";

const MiB = 1024 * 1024;

export interface UiPod {
  namespace: string;
  name: string;
  /** Booked on this GPU (all its containers there). */
  memoryMiB: number;
  cores: number;
  /** What its containers' HAMi-core regions report on this GPU (node monitor), when known. */
  usedMiB?: number;
  limitMiB?: number;
  smUtil?: number;
  /** The MIG instances it holds here ("1g.10gb at 2:1"). */
  mig?: string[];
}

export interface UiHost {
  /** What its containers' HAMi-core regions report, summed. */
  trackedMiB: number;
  utilization?: number;
  memoryUsedMiB?: number;
  memoryTotalMiB?: number;
  temperatureC?: number;
  powerW?: number;
  untrackedMiB?: number;
}

export interface UiDevice {
  uuid: string;
  type: string;
  healthy: boolean;
  /** Listed in the node's hami.io/device-cordon: no new pods. */
  cordoned: boolean;
  /** HAMi's operating mode: hami-core (shared) or mig (one instance per container). */
  mode: string;
  /** In mode mig: per profile, free instances of all. */
  mig?: { profile: string; free: number; total: number }[];
  memoryMiB: number;
  memoryUsedMiB: number;
  coresUsed: number;
  cores: number;
  slots: number;
  splitCount: number;
  pods: UiPod[];
  /** The GPU as its node's monitor last saw it. */
  host?: UiHost;
}

export interface UiNode {
  name: string;
  unavailable?: string;
  devices: UiDevice[];
  /** When its monitor's last sample was taken. */
  usageTime?: string;
}

export type UiSummary = ClusterStatus;

export interface UiEvent {
  time: string;
  type: string;
  pod: string;
  node?: string;
  reason?: string;
}

export interface UiState {
  summary: UiSummary;
  nodes: UiNode[];
  pending: { namespace: string; name: string; reason: string }[];
  events: UiEvent[];
}

export interface UiSources {
  usage?: LiveUsage;
  events?: RecentEvents;
  /** Pending GPU pods with the reason each is not placed (non-GPU pods left out). */
  pending?: () => { namespace: string; name: string; reason: string }[];
}

function mib(bytes: number | undefined): number | undefined {
  return bytes === undefined ? undefined : Math.round(bytes / MiB);
}

function hostOf(gpu: GpuUsage | undefined): UiHost | undefined {
  if (gpu === undefined) return undefined;
  const host: UiHost = { trackedMiB: mib(gpu.trackedBytes) ?? 0 };
  const set = <K extends keyof UiHost>(key: K, value: UiHost[K] | undefined): void => {
    if (value !== undefined) host[key] = value;
  };
  set("utilization", gpu.utilization);
  set("memoryUsedMiB", mib(gpu.memoryUsedBytes));
  set("memoryTotalMiB", mib(gpu.memoryTotalBytes));
  set("temperatureC", gpu.temperatureC);
  set("powerW", gpu.powerW);
  set("untrackedMiB", mib(gpu.untrackedBytes));
  return host;
}

/** The pods booked on one GPU, a pod's containers there merged, with what their regions report. */
function podsOn(uuid: string, holders: readonly Holding[], usage: NodeUsage | undefined): UiPod[] {
  const pods: UiPod[] = [];
  for (const h of holders) {
    const slices = h.devices.flat().filter((slice) => slice.uuid === uuid);
    if (slices.length === 0) continue;
    const pod: UiPod = {
      namespace: h.namespace,
      name: h.name,
      memoryMiB: slices.reduce((sum, s) => sum + s.memoryMiB, 0),
      cores: slices.reduce((sum, s) => sum + s.cores, 0),
    };
    const instances = slices.flatMap((s) => (s.mig === undefined ? [] : [migSliceText(s.mig)]));
    if (instances.length > 0) pod.mig = instances;
    const seen = (usage?.containers ?? [])
      .filter((c) => c.namespace === h.namespace && c.pod === h.name)
      .flatMap((c) => c.devices.filter((d) => d.uuid === uuid));
    if (seen.length > 0) {
      pod.usedMiB = mib(seen.reduce((sum, d) => sum + d.usedBytes, 0)) ?? 0;
      pod.limitMiB = mib(seen.reduce((sum, d) => sum + d.limitBytes, 0)) ?? 0;
      pod.smUtil = seen.reduce((sum, d) => sum + d.smUtil, 0);
    }
    pods.push(pod);
  }
  return pods;
}

function nodeState(view: ClusterView, name: string, usage: NodeUsage | undefined): UiNode {
  const candidate = view.candidate(name);
  const holders = view.holders(name);
  const devices = candidate.devices.map((d, i): UiDevice => {
    const used = candidate.usage[i] ?? NO_USAGE;
    const device: UiDevice = {
      uuid: d.uuid,
      type: d.type,
      healthy: d.healthy,
      cordoned: d.cordoned === true,
      mode: d.mode,
      memoryMiB: d.memoryMiB,
      memoryUsedMiB: used.memoryMiB,
      coresUsed: used.cores,
      cores: d.cores,
      slots: used.slots,
      splitCount: d.splitCount,
      pods: podsOn(d.uuid, holders, usage),
    };
    if (d.migProfiles !== undefined) device.mig = migFree(d.migProfiles, used.mig ?? []);
    const host = hostOf(usage?.gpus.find((g) => g.uuid === d.uuid));
    if (host !== undefined) device.host = host;
    return device;
  });
  const node: UiNode = { name, devices };
  if (candidate.unavailable !== undefined) node.unavailable = candidate.unavailable;
  if (usage !== undefined) node.usageTime = usage.time;
  return node;
}

function uiEvent(event: HamiEvent): UiEvent {
  const e: UiEvent = {
    time: event.time,
    type: event.type,
    pod: `${event.pod.namespace}/${event.pod.name}`,
  };
  if (event.node !== undefined) e.node = event.node;
  if (event.reason !== undefined) e.reason = event.reason;
  return e;
}

/** The summary line: bookings and fragmentation from the view, used figures from the node
 * monitors' samples (what the page shows and the scheduler's hami_cluster_* gauges report). */
export function clusterStatus(view: ClusterView, usage?: LiveUsage): ClusterStatus {
  const candidates = view.nodeNames().map((n) => view.candidate(n));
  const status: ClusterStatus = {
    ...clusterSummary(candidates, view.workload()),
    usedMiB: 0,
    usedOfMiB: 0,
    gpusReporting: 0,
    hostMemoryUsedMiB: 0,
    hostMemoryTotalMiB: 0,
    gpusHostReporting: 0,
  };
  for (const candidate of candidates) {
    const gpus = usage?.get(candidate.name)?.gpus ?? [];
    for (const d of candidate.devices) {
      const host = hostOf(gpus.find((g) => g.uuid === d.uuid));
      if (host === undefined) continue;
      status.gpusReporting++;
      status.usedMiB += host.trackedMiB;
      status.usedOfMiB += host.memoryTotalMiB ?? d.memoryMiB;
      if (host.memoryUsedMiB === undefined || host.memoryTotalMiB === undefined) continue;
      status.gpusHostReporting++;
      status.hostMemoryUsedMiB += host.memoryUsedMiB;
      status.hostMemoryTotalMiB += host.memoryTotalMiB;
    }
  }
  return status;
}

export function uiState(view: ClusterView, sources: UiSources = {}): UiState {
  return {
    summary: clusterStatus(view, sources.usage),
    nodes: view.nodeNames().map((name) => nodeState(view, name, sources.usage?.get(name))),
    pending: sources.pending?.() ?? [],
    events: (sources.events?.list() ?? []).slice(0, 20).map(uiEvent),
  };
}

export const UI_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>hami-ts GPUs</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 1.5rem; background: #f6f7f9; color: #222; }
  h1 { font-size: 1.3rem; margin-bottom: .3rem; }
  h2.section { font-size: 1.05rem; margin: 1.2rem 0 .4rem; }
  #summary { font-size: .9rem; color: #333; margin-bottom: 1rem; }
  #summary b { font-weight: 600; }
  .node { margin-bottom: 1.5rem; }
  .node h2 { font-size: 1.05rem; margin: 0 0 .5rem; }
  .node .when { color: #777; font-size: .75rem; font-weight: normal; }
  .node .why { color: #b00; font-size: .85rem; }
  .cards { display: flex; flex-wrap: wrap; gap: .75rem; }
  .card { background: white; border: 1px solid #ccd; border-radius: 6px; padding: .6rem .8rem; width: 17rem; }
  .card.sick { border-color: #c33; }
  .card.cordoned { border-style: dashed; background: #fbfbf4; }
  .card h3 { font-size: .85rem; margin: 0 0 .4rem; word-break: break-all; }
  .bar { background: #e5e8ee; border-radius: 3px; height: .6rem; margin: .15rem 0 .35rem; overflow: hidden; }
  .bar span { display: block; height: 100%; background: #3b7dd8; }
  .bar.cores span { background: #36a269; }
  .bar.used span { background: #e08a1e; }
  .bar.small { height: .35rem; margin: .1rem 0 .25rem; }
  .bar.hot span { background: #c8372d; }
  .label { font-size: .75rem; color: #555; }
  .warn { font-size: .75rem; color: #b00; }
  ul { margin: .3rem 0 0; padding-left: 1.1rem; font-size: .8rem; }
  #pending li, #events li { margin-bottom: .2rem; }
</style>
</head>
<body>
<h1>hami-ts: GPUs and the pods on them</h1>
<div id="summary">loading...</div>
<div id="nodes"></div>
<h2 class="section">Pending GPU pods</h2>
<ul id="pending"></ul>
<h2 class="section">Last events</h2>
<ul id="events"></ul>
<script>
const pct = (a, b) => (b > 0 ? Math.min(100, Math.round((a / b) * 100)) : 0);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const bar = (cls, a, b) => '<div class="bar ' + cls + '"><span style="width:' + pct(a, b) + '%"></span></div>';
function pod(d, p) {
  const key = esc(p.namespace + '/' + p.name);
  let use = '';
  if (p.usedMiB !== undefined) {
    const limit = p.limitMiB || p.memoryMiB;
    use = ' <span class="use" data-use="' + key + '">used ' + p.usedMiB + ' / ' + limit + ' MiB, SM ' + p.smUtil + '%</span>' +
      bar('small used' + (p.usedMiB > 0.9 * limit ? ' hot' : ''), p.usedMiB, limit);
  }
  const mig = p.mig ? ' <span class="label">MIG ' + esc(p.mig.join(', ')) + '</span>' : '';
  return '<li data-pod="' + key + '">' + key + ' ' + p.memoryMiB + ' MiB, ' + p.cores + '%' + mig + use + '</li>';
}
function host(h) {
  if (!h) return '';
  const total = h.memoryTotalMiB;
  let out = '<div class="label" data-tracked>used (containers) ' + h.trackedMiB + (total ? ' / ' + total : '') + ' MiB</div>' + (total ? bar('used', h.trackedMiB, total) : '');
  if (h.memoryUsedMiB !== undefined && h.memoryTotalMiB !== undefined)
    out += '<div class="label" data-host-memory>used (host) ' + h.memoryUsedMiB + ' / ' + h.memoryTotalMiB + ' MiB</div>' + bar('used', h.memoryUsedMiB, h.memoryTotalMiB);
  const facts = [];
  if (h.utilization !== undefined) facts.push('util ' + h.utilization + '%');
  if (h.temperatureC !== undefined) facts.push(h.temperatureC + ' °C');
  if (h.powerW !== undefined) facts.push(h.powerW + ' W');
  if (facts.length) out += '<div class="label">' + facts.join(', ') + '</div>';
  if (h.untrackedMiB > 0) out += '<div class="warn">untracked ' + h.untrackedMiB + ' MiB (in use, in no container region)</div>';
  return out;
}
function card(d) {
  return '<div class="card' + (d.healthy ? '' : ' sick') + (d.cordoned ? ' cordoned' : '') + '" data-gpu="' + esc(d.uuid) + '">' +
    '<h3>' + esc(d.uuid) + '<br><span class="label">' + esc(d.type) + (d.healthy ? '' : ' (unhealthy)') + (d.cordoned ? ' (cordoned: no new pods)' : '') + '</span></h3>' +
    (d.mig ? '<div class="label" data-mig>MIG: ' + d.mig.map((m) => esc(m.profile) + ' ' + m.free + '/' + m.total + ' free').join(', ') + '</div>' : '') +
    '<div class="label">booked memory ' + d.memoryUsedMiB + ' / ' + d.memoryMiB + ' MiB</div>' + bar('', d.memoryUsedMiB, d.memoryMiB) +
    '<div class="label">cores ' + d.coresUsed + ' / ' + d.cores + '%, slots ' + d.slots + ' / ' + d.splitCount + '</div>' + bar('cores', d.coresUsed, d.cores) +
    host(d.host) + '<ul>' + d.pods.map((p) => pod(d, p)).join("") + '</ul></div>';
}
function summary(s) {
  const parts = ['<b>' + s.gpus + ' GPUs</b> (' + s.healthyGpus + ' healthy)',
    'booked memory <b>' + pct(s.memoryAllocatedMiB, s.memoryMiB) + '%</b>',
    'booked cores <b>' + pct(s.coresAllocated, s.cores) + '%</b>'];
  parts.push(s.gpusReporting > 0
    ? 'used memory <b>' + pct(s.usedMiB, s.usedOfMiB) + '%</b> (containers, ' + s.gpusReporting + ' GPUs reporting)'
    : 'used memory: no node monitor reporting');
  if (s.gpusHostReporting > 0) parts.push('host ' + pct(s.hostMemoryUsedMiB, s.hostMemoryTotalMiB) + '%');
  parts.push('fragmented GPUs <b>' + s.fragmentedGpus + '</b>', 'fragmentation ' + s.fragmentationGpus.toFixed(2) + ' of ' + s.freeGpus.toFixed(2) + ' free GPUs');
  return parts.join(' · ');
}
async function refresh() {
  try {
    const state = await (await fetch("ui/state")).json();
    document.getElementById("summary").innerHTML = summary(state.summary);
    document.getElementById("nodes").innerHTML = state.nodes.map((n) =>
      '<div class="node" data-node="' + esc(n.name) + '"><h2>' + esc(n.name) +
      (n.usageTime ? ' <span class="when">usage at ' + esc(n.usageTime) + '</span>' : '') + '</h2>' +
      (n.unavailable ? '<div class="why">' + esc(n.unavailable) + '</div>' : '') +
      '<div class="cards">' + n.devices.map(card).join("") + '</div></div>').join("") || "no GPU nodes yet";
    document.getElementById("pending").innerHTML = state.pending.map((p) =>
      '<li data-pending="' + esc(p.namespace + '/' + p.name) + '">' + esc(p.namespace + '/' + p.name) + ': ' + esc(p.reason) + '</li>').join("") || '<li>none</li>';
    document.getElementById("events").innerHTML = state.events.map((e) =>
      '<li>' + esc(e.time) + ' ' + esc(e.type) + ' ' + esc(e.pod) + (e.node ? ' on ' + esc(e.node) : '') + (e.reason ? ': ' + esc(e.reason) : '') + '</li>').join("") || '<li>none (no event stream)</li>';
  } catch (e) {
    document.getElementById("summary").textContent = "cannot reach the scheduler: " + e;
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
`;
