// The extender's live view as data (GET /ui/state) and a small page that draws it (GET /ui): one
// card per GPU with memory and core bars and the pods on it, refreshed every second.

import { NO_USAGE } from "../core/index.js";
import type { ClusterView } from "./view.js";

export interface UiDevice {
  uuid: string;
  type: string;
  healthy: boolean;
  memoryMiB: number;
  memoryUsedMiB: number;
  coresUsed: number;
  cores: number;
  slots: number;
  splitCount: number;
  pods: { namespace: string; name: string; memoryMiB: number; cores: number }[];
}

export interface UiState {
  nodes: { name: string; unavailable?: string; devices: UiDevice[] }[];
}

export function uiState(view: ClusterView): UiState {
  return {
    nodes: view.nodeNames().map((name) => {
      const candidate = view.candidate(name);
      const holders = view.holders(name);
      const devices = candidate.devices.map((d, i): UiDevice => {
        const used = candidate.usage[i] ?? NO_USAGE;
        const pods = holders.flatMap((h) =>
          h.devices
            .flat()
            .filter((slice) => slice.uuid === d.uuid)
            .map((slice) => ({
              namespace: h.namespace,
              name: h.name,
              memoryMiB: slice.memoryMiB,
              cores: slice.cores,
            })),
        );
        return {
          uuid: d.uuid,
          type: d.type,
          healthy: d.healthy,
          memoryMiB: d.memoryMiB,
          memoryUsedMiB: used.memoryMiB,
          coresUsed: used.cores,
          cores: d.cores,
          slots: used.slots,
          splitCount: d.splitCount,
          pods,
        };
      });
      return candidate.unavailable === undefined
        ? { name, devices }
        : { name, unavailable: candidate.unavailable, devices };
    }),
  };
}

export const UI_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>hami-ts GPUs</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 1.5rem; background: #f6f7f9; color: #222; }
  h1 { font-size: 1.3rem; }
  .node { margin-bottom: 1.5rem; }
  .node h2 { font-size: 1.05rem; margin: 0 0 .5rem; }
  .node .why { color: #b00; font-size: .85rem; }
  .cards { display: flex; flex-wrap: wrap; gap: .75rem; }
  .card { background: white; border: 1px solid #ccd; border-radius: 6px; padding: .6rem .8rem; width: 15rem; }
  .card.sick { border-color: #c33; }
  .card h3 { font-size: .85rem; margin: 0 0 .4rem; word-break: break-all; }
  .bar { background: #e5e8ee; border-radius: 3px; height: .6rem; margin: .15rem 0 .35rem; overflow: hidden; }
  .bar span { display: block; height: 100%; background: #3b7dd8; }
  .bar.cores span { background: #36a269; }
  .label { font-size: .75rem; color: #555; }
  ul { margin: .3rem 0 0; padding-left: 1.1rem; font-size: .8rem; }
</style>
</head>
<body>
<h1>hami-ts: GPUs and the pods on them</h1>
<div id="nodes">loading...</div>
<script>
const pct = (a, b) => (b > 0 ? Math.min(100, Math.round((a / b) * 100)) : 0);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
function card(d) {
  const pods = d.pods.map((p) => '<li data-pod="' + esc(p.namespace + '/' + p.name) + '">' + esc(p.namespace + '/' + p.name) + ' ' + p.memoryMiB + ' MiB, ' + p.cores + '%</li>').join("");
  return '<div class="card' + (d.healthy ? '' : ' sick') + '" data-gpu="' + esc(d.uuid) + '">' +
    '<h3>' + esc(d.uuid) + '<br><span class="label">' + esc(d.type) + (d.healthy ? '' : ' (unhealthy)') + '</span></h3>' +
    '<div class="label">memory ' + d.memoryUsedMiB + ' / ' + d.memoryMiB + ' MiB</div><div class="bar"><span style="width:' + pct(d.memoryUsedMiB, d.memoryMiB) + '%"></span></div>' +
    '<div class="label">cores ' + d.coresUsed + ' / ' + d.cores + '%, slots ' + d.slots + ' / ' + d.splitCount + '</div><div class="bar cores"><span style="width:' + pct(d.coresUsed, d.cores) + '%"></span></div>' +
    '<ul>' + pods + '</ul></div>';
}
async function refresh() {
  try {
    const state = await (await fetch("ui/state")).json();
    document.getElementById("nodes").innerHTML = state.nodes.map((n) =>
      '<div class="node" data-node="' + esc(n.name) + '"><h2>' + esc(n.name) + '</h2>' +
      (n.unavailable ? '<div class="why">' + esc(n.unavailable) + '</div>' : '') +
      '<div class="cards">' + n.devices.map(card).join("") + '</div></div>').join("") || "no GPU nodes yet";
  } catch (e) {
    document.getElementById("nodes").textContent = "cannot reach the scheduler: " + e;
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
`;
