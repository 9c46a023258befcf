// The browser page: log in over HTTPS (or take a ready play ticket from `#ticket=`), connect over a
// WebSocket, play with WASD, chat, and draw the area of interest. `window.meridian` is a small hook
// for automated browser tests.

import { Session, wallClockUs } from '../session.js';
import { describeDisconnect } from '../proto/client.js';
import { api, base64Bytes, ticketFromHash } from './api.js';
import { draw } from './view.js';
import { wsTransport } from './ws_transport.js';

const $ = (id) => document.getElementById(id);
const apiBase = new URLSearchParams(location.search).get('api') ?? '';

let session = null;
let connectionState = 'logged_out';
let lastError = '';
const keys = new Set();
let scripted = null; // {direction, until} from window.meridian.move

function setError(message) {
  lastError = message;
  $('error').textContent = message;
}

function intent() {
  if (scripted && performance.now() < scripted.until) return { direction: scripted.direction, yaw: 0 };
  scripted = null;
  const x = (keys.has('d') ? 1 : 0) - (keys.has('a') ? 1 : 0);
  const y = (keys.has('w') ? 1 : 0) - (keys.has('s') ? 1 : 0);
  return { direction: [x, y], yaw: x || y ? Math.atan2(y, x) : 0 };
}

function client() {
  return session?.client ?? null;
}

function chatLine(c) {
  const li = document.createElement('li');
  li.textContent = `[${c.channel === 1 ? 'global' : 'zone'}] ${c.own ? 'you' : c.server ? 'server' : `#${c.from}`}: ${c.text}`;
  $('chat-log').append(li);
  $('chat-log').scrollTop = $('chat-log').scrollHeight;
}

function onEvent(e) {
  if (e.type === 'connected') connectionState = 'connected';
  else if (e.type === 'disconnected') {
    connectionState = 'disconnected';
    $('status-reason').textContent = `${describeDisconnect(e.why)}: play again from the list (a new ticket)`;
    // A session never resumes (§1.3, §8): playing again takes a new ticket from the control plane.
    $('login').hidden = false;
  } else if (e.type === 'server') {
    if (e.event.kind === 'chat') chatLine(client().chatLog[client().chatLog.length - 1]);
    else if (e.event.kind === 'join_refused') setError(`join refused (reason ${e.event.reason}); log in again later`);
    else if (e.event.kind === 'died') $('status-reason').textContent = 'you died';
    else if (e.event.kind === 'respawned') $('status-reason').textContent = '';
  }
}

/** Connects with a play ticket: {connect_token (base64), server, zone_id, expires_at_s, websocket}. */
async function play(ticket) {
  if (!ticket.websocket) throw new Error('the play ticket has no websocket URL (is the WebSocket gateway enabled?)');
  session?.disconnect();
  connectionState = 'connecting';
  $('login').hidden = true;
  $('game').hidden = false;
  const transport = await wsTransport(ticket.websocket);
  session = new Session(transport, base64Bytes(ticket.connect_token), { onEvent, intent });
  const ended = session;
  // Session sets its own onClose (stop); wrap it so a gateway close shows up with its code.
  const stop = transport.onClose;
  transport.onClose = (info) => {
    stop(info);
    if (session === ended && connectionState !== 'disconnected') {
      connectionState = 'disconnected';
      $('status-reason').textContent = `WebSocket closed (${info?.code} ${info?.reason ?? ''})`;
    }
  };
}

let jwt = null;

async function refreshCharacters() {
  const { characters } = await api.characters(apiBase, jwt);
  const list = $('characters');
  list.replaceChildren();
  for (const c of characters) {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.textContent = `Play ${c.name} (zone ${c.zone_id})`;
    button.onclick = () => api.play(apiBase, jwt, c.id).then(play).catch((e) => setError(e.message));
    li.append(button);
    list.append(li);
  }
  $('characters-box').hidden = false;
}

function wireForms() {
  const credentials = () => [$('name').value, $('password').value];
  $('register').onclick = (e) => {
    e.preventDefault();
    api.register(apiBase, ...credentials()).then(() => setError('registered: now log in')).catch((x) => setError(x.message));
  };
  $('login-form').onsubmit = (e) => {
    e.preventDefault();
    api.login(apiBase, ...credentials())
      .then((r) => {
        jwt = r.token;
        connectionState = 'logged_in';
        setError('');
        return refreshCharacters();
      })
      .catch((x) => setError(x.message));
  };
  $('new-character').onsubmit = (e) => {
    e.preventDefault();
    api.createCharacter(apiBase, jwt, $('character-name').value).then(refreshCharacters).catch((x) => setError(x.message));
  };
  $('chat-form').onsubmit = (e) => {
    e.preventDefault();
    const text = $('chat-text').value;
    const r = session?.sendChat(text, Number($('chat-channel').value));
    if (r && !r.ok) setError(`chat not sent: ${r.error}`);
    else $('chat-text').value = '';
  };
  $('leave').onclick = () => session?.disconnect();
  const movementKey = (e) => {
    const k = e.key.toLowerCase();
    return ['w', 'a', 's', 'd'].includes(k) && document.activeElement?.tagName !== 'INPUT' ? k : null;
  };
  addEventListener('keydown', (e) => {
    const k = movementKey(e);
    if (k) keys.add(k);
  });
  addEventListener('keyup', (e) => {
    const k = movementKey(e);
    if (k) keys.delete(k);
  });
  addEventListener('blur', () => keys.clear());
}

function status() {
  const c = client();
  const rtt = c?.rttUs();
  const position = c?.predictedPosition();
  return {
    state: c ? c.state : connectionState,
    rttMs: rtt == null ? null : rtt / 1000,
    tick: c?.latestTick() ?? null,
    entity: c?.entity ?? null,
    position: position ? position.slice() : null,
    error: lastError,
  };
}

function frame() {
  const c = client();
  const s = status();
  $('status').textContent = `${s.state} · rtt ${s.rttMs == null ? '–' : s.rttMs.toFixed(1)} ms · tick ${s.tick ?? '–'} · entity ${
    s.entity ?? '–'
  } · ${s.position ? `(${s.position[0].toFixed(1)}, ${s.position[1].toFixed(1)})` : ''}`;
  if (c) draw($('view'), { self: c.isPlaced() ? c.predictedPosition() : null, others: c.renderRemote(wallClockUs()), entity: c.entity });
  requestAnimationFrame(frame);
}

const DIRECTIONS = { w: [0, 1], s: [0, -1], a: [-1, 0], d: [1, 0], up: [0, 1], down: [0, -1], left: [-1, 0], right: [1, 0] };

window.meridian = {
  status,
  state: () => status().state,
  entity: () => client()?.entity ?? null,
  position: () => status().position,
  serverPosition: () => {
    const c = client();
    return c?.entity == null ? null : (c.serverWorld().get(c.entity)?.position ?? null);
  },
  others: () => (client() ? client().renderRemote(wallClockUs()).map((e) => ({ id: e.id, kind: e.kind, position: e.position })) : []),
  chatLog: () => (client()?.chatLog ?? []).map((c) => ({ ...c })),
  sendChat: (text, channel = 0) => session?.sendChat(text, channel) ?? { ok: false, error: 'not_connected' },
  /** Holds a direction ('w'|'a'|'s'|'d' or [x, y]) for `ms`; resolves when done. */
  move: (dir, ms) => {
    scripted = { direction: Array.isArray(dir) ? dir : DIRECTIONS[dir], until: performance.now() + ms };
    return new Promise((resolve) => setTimeout(resolve, ms));
  },
  disconnect: () => session?.disconnect(),
  play: (ticket) => play(ticket),
};

wireForms();
requestAnimationFrame(frame);
try {
  const ticket = ticketFromHash(location.hash);
  if (ticket) play(ticket).catch((e) => setError(e.message));
} catch (e) {
  setError(`bad #ticket: ${e.message}`);
}
