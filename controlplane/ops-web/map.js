// The operators' world map: polls /ops/world.json and draws the seamless world on a canvas.
// Read-only. Its state is on window.meridianMap for people poking in the console and for the
// browser tests (tests/browser), which compare it with the pixels of a screenshot.
"use strict";

const POLL_MS = 500;
const FLASH_MS = 1500;
// Colours are part of the page's contract with its tests: players are drawn in PLAYER_RGB.
const PLAYER_RGB = [0, 255, 102];
const PLAYER = `rgb(${PLAYER_RGB.join(",")})`;
const ZONE_FILL = "#1b2230";
const ZONE_EDGE = "#5d6b86";
const FLASH = "#ff4040";
const AOI = "#ffcc00";
const DOT_RADIUS_PX = 3;
const MARGIN_PX = 12;

const state = {
  zones: [],
  nodes: [],
  world: null,
  // Every drawn dot: character id, zone, canvas position (CSS pixels).
  dots: [],
  updates: 0,
  error: null,
  selected: null,
  // zone id -> time (ms) until which its border flashes (its handoff counters grew).
  flashUntil: new Map(),
  scale: 1,
  playerRgb: PLAYER_RGB,
};
window.meridianMap = state;

const canvas = document.getElementById("map");
const context = canvas.getContext("2d");
const status = document.getElementById("status");
const totals = document.getElementById("totals");
const selection = document.getElementById("selection");
let previous = new Map();

function worldExtent(world) {
  if (world.world_size_m) return world.world_size_m;
  let extent = [1, 1];
  for (const zone of world.zones) {
    if (zone.rect) extent = [Math.max(extent[0], zone.rect.max_m[0]), Math.max(extent[1], zone.rect.max_m[1])];
  }
  return extent;
}

function resize() {
  canvas.width = window.innerWidth;
  canvas.height = Math.max(200, window.innerHeight - canvas.getBoundingClientRect().top);
}

// World metres -> canvas pixels (y grows downwards on the canvas, northwards in the world).
function toCanvas(x, y) {
  const extent = state.extent;
  return [MARGIN_PX + x * state.scale, MARGIN_PX + (extent[1] - y) * state.scale];
}

function draw() {
  context.fillStyle = "#0e1118";
  context.fillRect(0, 0, canvas.width, canvas.height);
  if (!state.world) return;
  const extent = (state.extent = worldExtent(state.world));
  state.scale = Math.min((canvas.width - 2 * MARGIN_PX) / extent[0], (canvas.height - 2 * MARGIN_PX) / extent[1]);
  const now = performance.now();
  state.dots = [];
  for (const zone of state.zones) {
    if (!zone.rect) continue;
    const [x0, y0] = toCanvas(zone.rect.min_m[0], zone.rect.max_m[1]);
    const [x1, y1] = toCanvas(zone.rect.max_m[0], zone.rect.min_m[1]);
    zone.canvasRect = [x0, y0, x1, y1];
    context.fillStyle = ZONE_FILL;
    context.fillRect(x0, y0, x1 - x0, y1 - y0);
    const flashing = (state.flashUntil.get(zone.zone_id) || 0) > now;
    context.strokeStyle = flashing ? FLASH : ZONE_EDGE;
    context.lineWidth = flashing ? 4 : 1;
    context.strokeRect(x0 + 0.5, y0 + 0.5, x1 - x0 - 1, y1 - y0 - 1);
    context.fillStyle = "#dde3ee";
    context.font = "13px system-ui, sans-serif";
    const owner = zone.owner_node ? `${zone.owner_node} / worker ${zone.owner_worker}` : `${zone.served_by || "?"} / worker ${zone.worker ?? "?"}`;
    context.fillText(`zone ${zone.zone_id} · ${owner}`, x0 + 6, y0 + 16);
    const p99 = (zone.tick_p99_us / 1000).toFixed(1);
    context.fillText(`CCU ${zone.players} · tick p99 ${p99} ms · NPCs ${zone.npcs} · loot ${zone.loot}`, x0 + 6, y0 + 32);
    if (!zone.served_by) {
      context.fillStyle = FLASH;
      context.fillText("no node reports this zone", x0 + 6, y0 + 48);
    }
  }
  context.fillStyle = PLAYER;
  for (const zone of state.zones) {
    for (const dot of zone.dots) {
      const [x, y] = toCanvas(dot.x_m, dot.y_m);
      context.beginPath();
      context.arc(x, y, DOT_RADIUS_PX, 0, 2 * Math.PI);
      context.fill();
      state.dots.push({ character_id: dot.character_id, zone_id: zone.zone_id, x, y });
    }
  }
  drawSelection();
}

function drawSelection() {
  if (state.selected === null) {
    selection.style.display = "none";
    return;
  }
  const dot = state.dots.find((d) => d.character_id === state.selected);
  const zone = dot && state.zones.find((z) => z.zone_id === dot.zone_id);
  if (!dot || !zone) {
    selection.textContent = `character ${state.selected}: not on the map now`;
    return;
  }
  context.strokeStyle = AOI;
  context.lineWidth = 2;
  context.beginPath();
  context.arc(dot.x, dot.y, zone.aoi_radius_m * state.scale, 0, 2 * Math.PI);
  context.stroke();
  selection.style.display = "block";
  selection.textContent = `character ${dot.character_id}\nzone ${zone.zone_id}\nAOI radius ${zone.aoi_radius_m} m`;
}

canvas.addEventListener("click", (event) => {
  const bounds = canvas.getBoundingClientRect();
  const [x, y] = [event.clientX - bounds.left, event.clientY - bounds.top];
  let best = null;
  for (const dot of state.dots) {
    const distance = Math.hypot(dot.x - x, dot.y - y);
    if (distance <= 8 && (!best || distance < best.distance)) best = { distance, dot };
  }
  state.selected = best ? best.dot.character_id : null;
  draw();
});

async function poll() {
  try {
    const response = await fetch("/ops/world.json", { credentials: "same-origin", cache: "no-store" });
    if (!response.ok) {
      const refusal = await response.json().catch(() => ({}));
      throw new Error(refusal.message || `HTTP ${response.status}`);
    }
    const world = await response.json();
    const now = performance.now();
    for (const zone of world.zones) {
      const before = previous.get(zone.zone_id);
      if (before && zone.handoffs_in + zone.handoffs_out > before) state.flashUntil.set(zone.zone_id, now + FLASH_MS);
    }
    previous = new Map(world.zones.map((z) => [z.zone_id, z.handoffs_in + z.handoffs_out]));
    state.world = world;
    state.zones = world.zones;
    state.nodes = world.nodes;
    state.error = null;
    state.updates += 1;
    status.className = "";
    const down = world.nodes.filter((n) => n.error).map((n) => `${n.id}: ${n.error}`);
    status.textContent = down.length ? `unreachable: ${down.join("; ")}` : `${world.nodes.length} node(s), live`;
    const ccu = world.zones.reduce((sum, z) => sum + z.players, 0);
    totals.textContent = `${world.zones.length} zone(s) · ${ccu} players`;
  } catch (error) {
    state.error = String(error.message || error);
    status.className = "error";
    status.textContent = `cannot read the world: ${state.error}`;
  }
  draw();
  setTimeout(poll, POLL_MS);
}

window.addEventListener("resize", () => { resize(); draw(); });
resize();
poll();
