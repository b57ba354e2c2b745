// The headend dashboard: live status from GET /events (server-sent events),
// the rest from the API's own routes. Plain browser JS, no build step.
// Every value from the network goes in as text nodes, never parsed as HTML:
// ICY titles and directory names are whatever a station sends.
'use strict';

const $ = (sel) => document.querySelector(sel);

/** el('td', { class: 'num' }, 'text', child...) */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, String(v));
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c === undefined || c === null ? '' : String(c)));
  return node;
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

function duration(ms) {
  if (!(ms >= 0)) return '—';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h} h ${m % 60} min` : `${Math.floor(h / 24)} d ${h % 24} h`;
}

const pct = (f) => (typeof f === 'number' ? `${(f * 100).toFixed(1)} %` : '—');
const ms = (v) => (typeof v === 'number' ? `${v.toFixed(1)} ms` : '—');
const time = (at) => (typeof at === 'number' || typeof at === 'string' ? new Date(at).toLocaleTimeString() : '—');

// ---------------------------------------------------------------- the token (writes)

const TOKEN_KEY = 'headend.token';
const tokenInput = $('#token');
tokenInput.value = sessionStorage.getItem(TOKEN_KEY) || '';
tokenInput.addEventListener('input', () => sessionStorage.setItem(TOKEN_KEY, tokenInput.value));

async function api(path, opts = {}) {
  const headers = { accept: 'application/json', ...(opts.headers || {}) };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (opts.method && opts.method !== 'GET' && token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(path, { ...opts, headers });
  const text = await res.text();
  let body;
  try { body = text ? JSON.parse(text) : undefined; } catch { body = { message: text }; }
  return { status: res.status, ok: res.ok, body };
}

// ---------------------------------------------------------------- channels behind live groups

/** group → channel (from GET /channels/GROUP), fetched once per group. */
const channels = new Map();
function channelOf(group) {
  if (!channels.has(group)) {
    channels.set(group, null);
    api(`/channels/${encodeURIComponent(group)}`).then((r) => {
      if (r.ok) { channels.set(group, r.body); render(); }
    }, () => channels.delete(group));
  }
  return channels.get(group);
}

function sourceOf(session, ch) {
  if (session.stream && session.stream.finalUrl) return session.stream.finalUrl;
  if (!ch) return '…';
  if (ch.kind === 'dvb') return `DVB service ${ch.serviceId ?? '?'}${ch.tuning ? ` · ${ch.tuning.frequencyKhz} kHz ${ch.tuning.polarisation}` : ''}`;
  return ch.url || '—';
}

function receptionOf(s) {
  return s.rtcp || s.reception || (s.stream && s.stream.rtcp) || undefined;
}

/** The membership table when the daemon reports it (LiveMembership.dump() rows). */
function membershipTable(live) {
  const m = live.membership || {};
  return Array.isArray(m.table) ? m.table : Array.isArray(m.dump) ? m.dump : undefined;
}

function listenersText(s, table) {
  // Per interface when known (from the session, or summed from the membership
  // table's rows for the group, when there is more than one interface to
  // tell apart), else the interfaces and the total.
  let per = s.listenersByIface || s.ifaceListeners;
  if (!per && table && Array.isArray(s.ifaces) && s.ifaces.length > 1) {
    const rows = table.filter((r) => r.group === s.group);
    if (rows.length) {
      per = {};
      for (const r of rows) per[r.iface] = (per[r.iface] || 0) + (r.subscribers ?? (r.hosts || []).length);
    }
  }
  if (per && typeof per === 'object') return Object.entries(per).map(([i, n]) => `${i}: ${n}`).join(', ');
  const ifaces = Array.isArray(s.ifaces) && s.ifaces.length ? ` (${s.ifaces.join(', ')})` : '';
  return `${s.listeners ?? 0}${ifaces}`;
}

// ---------------------------------------------------------------- rendering

let status = {};
let lastSignature = '';

function liveOf(st) {
  return st && typeof st.live === 'object' && st.live !== null ? st.live : st || {};
}

function render() {
  const live = liveOf(status);
  const now = Date.now();
  const sessions = Array.isArray(live.sessions) ? live.sessions : [];
  const running = sessions.filter((s) => s.state && s.state !== 'idle');
  const table = membershipTable(live);

  // Live channels.
  fill($('#live tbody'), running.map((s) => {
    const ch = channelOf(s.group);
    const rx = receptionOf(s);
    const since = s.liveAt || s.startedAt || s.since;
    // The daemon's own phrase ("1 listener by MLD, 1 receiver by RTCP, 0.0 % loss") on hover.
    return el('tr', { 'data-group': s.group, 'data-state': s.state, title: s.summary },
      el('td', { class: 'name' }, s.channel || (ch && ch.name) || '—'),
      el('td', { class: 'addr' }, s.group),
      el('td', { class: 'src' }, sourceOf(s, ch)),
      el('td', {}, (s.stream && s.stream.format) || (ch && ch.codec) || '—'),
      el('td', {}, el('span', { class: `state ${s.state}` }, s.state)),
      el('td', { class: 'num' }, since ? duration(now - since) : '—'),
      el('td', { class: 'listeners' }, listenersText(s, table)),
      el('td', { class: 'num receivers' }, rx ? rx.receivers ?? 0 : '—'),
      el('td', { class: 'num loss' }, rx ? pct(rx.fractionLost) : '—'),
      el('td', { class: 'num jitter' }, rx ? ms(rx.jitterMs) : '—'),
      el('td', { class: 'title' }, (s.stream && s.stream.title) || ''),
    );
  }));
  $('#live-empty').hidden = running.length > 0;
  $('#live-count').textContent = running.length ? `(${running.length})` : '';

  const listeners = running.reduce((n, s) => n + (s.listeners || 0), 0);
  const receivers = running.reduce((n, s) => n + ((receptionOf(s) || {}).receivers || 0), 0);
  const losses = running.map(receptionOf).filter((r) => r && typeof r.fractionLost === 'number');
  const loss = losses.length ? losses.reduce((a, r) => a + r.fractionLost, 0) / losses.length : undefined;
  const reporting = running.some((s) => receptionOf(s));
  const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
  $('#summary').textContent = `${running.length} playing · ${plural(listeners, 'listener')} by MLD/IGMP · ${
    reporting ? `${plural(receivers, 'receiver')} by RTCP${loss === undefined ? '' : ` · ${pct(loss)} loss`}` : 'no RTCP figures'}`;
  $('#uptime').textContent = live.startedAt ? `up ${duration(now - Date.parse(live.startedAt))}${Array.isArray(live.interfaces) ? ` on ${live.interfaces.join(', ')}` : ''}` : '';

  // Problems: refused joins and failed streams still shown by the sessions.
  const problems = sessions.filter((s) => s.refused || s.lastError);
  fill($('#errors'), problems.map((s) => el('li', { 'data-group': s.group },
    el('span', { class: 'addr' }, s.group), ` ${s.channel ? `(${s.channel}) ` : ''}`,
    s.refused ? `join refused: ${s.refused}` : `failed: ${s.lastError}`,
    s.retryAt ? ` — retry in ${duration(s.retryAt - now)}` : '')));
  $('#errors-empty').hidden = problems.length > 0;

  // Membership: the table when the daemon reports it, else what the sessions know.
  const m = live.membership || {};
  const rows = table
    ? table.map((r) => el('tr', {},
        el('td', {}, r.iface), el('td', { class: 'addr' }, r.group), el('td', {}, r.mode || '—'),
        el('td', { class: 'addr' }, (r.sources || []).map((x) => x.address || x).join(', ') || 'any'),
        el('td', { class: 'num' }, r.subscribers ?? (r.hosts || []).length)))
    : sessions.filter((s) => s.listeners > 0).flatMap((s) => (s.ifaces || []).map((i) => el('tr', {},
        el('td', {}, i), el('td', { class: 'addr' }, s.group), el('td', {}, '—'), el('td', {}, '—'),
        el('td', { class: 'num' }, s.ifaces.length === 1 ? s.listeners : '—'))));
  fill($('#membership tbody'), rows);
  const engine = m.engine || m;
  const received = engine.received && typeof engine.received === 'object' ? Object.values(engine.received).reduce((a, b) => a + b, 0) : undefined;
  const rejected = engine.rejected && typeof engine.rejected === 'object' ? Object.entries(engine.rejected) : [];
  const queries = (m.live && m.live.queriesSent) ?? engine.queriesSent ?? 0;
  $('#membership-stats').textContent = received === undefined ? '' :
    `${received} messages received · ${rejected.reduce((a, [, n]) => a + n, 0)} rejected${rejected.length ? ` (${rejected.map(([k, n]) => `${k}: ${n}`).join(', ')})` : ''} · ${queries} ${queries === 1 ? 'query' : 'queries'} sent`;

  // Tuners.
  const dvb = live.dvb || status.dvb;
  const carriers = new Map(((dvb && dvb.carriers) || []).map((c) => [c.carrier, c]));
  fill($('#tuners tbody'), ((dvb && dvb.tuners) || []).map((t) => {
    const c = t.carrier ? carriers.get(t.carrier) : undefined;
    return el('tr', {}, el('td', {}, t.name), el('td', {}, t.kind), el('td', {}, t.state),
      el('td', {}, c ? c.tuning : t.carrier || ''), el('td', {}, c ? c.lock : ''),
      el('td', {}, c ? c.services.map((x) => x.name || x.serviceId).join(', ') : ''));
  }));
  $('#tuners-empty').hidden = Boolean(dvb && dvb.tuners && dvb.tuners.length);

  // History follows the sessions: fetched again when a session changes state.
  const signature = sessions.map((s) => `${s.group}:${s.state}:${s.starts}:${s.failures}:${s.refusals}`).join('|');
  if (signature !== lastSignature) {
    lastSignature = signature;
    loadHistory();
  }
}

async function loadHistory() {
  const r = await api('/history?limit=30');
  if (!r.ok) return;
  fill($('#history tbody'), (r.body.history || []).map((h) => el('tr', { class: h.event },
    el('td', {}, time(h.at)), el('td', { class: 'addr' }, h.group), el('td', {}, h.event),
    el('td', {}, h.reason || ''), el('td', { class: 'num' }, h.listeners ?? ''), el('td', {}, h.error || ''))));
}

// ---------------------------------------------------------------- the directory

async function loadDirectory() {
  const q = $('#dir-q').value.trim();
  const r = await api(`/channels?limit=100${q ? `&q=${encodeURIComponent(q)}` : ''}`);
  if (!r.ok) return message(`search failed: ${r.body && r.body.message || r.status}`, true);
  $('#dir-count').textContent = `(${r.body.channels.length} of ${r.body.total})`;
  fill($('#directory tbody'), r.body.channels.map((c) => el('tr', { 'data-id': c.id },
    el('td', { class: 'num' }, c.serviceNumber), el('td', {}, c.name), el('td', { class: 'addr' }, c.group),
    el('td', {}, c.kind), el('td', { class: 'src' }, c.kind === 'dvb' ? `service ${c.serviceId ?? '?'}` : c.url || ''),
    el('td', {}, c.enabled ? 'yes' : 'no'),
    el('td', {}, el('button', { type: 'button', onclick: () => toggle(c) }, c.enabled ? 'Disable' : 'Enable')))));
}

function message(text, isError) {
  const m = $('#dir-message');
  m.textContent = text;
  m.className = isError ? 'error' : 'ok';
}

async function toggle(c) {
  const action = c.enabled ? 'disable' : 'enable';
  const r = await api(`/channels/${c.id}/${action}`, { method: 'POST' });
  if (r.status === 401) return message('401 Unauthorized: enter the API token (api.token in the config) to change channels.', true);
  if (r.status === 403) return message(`403 Forbidden: ${r.body && r.body.message || 'writes are disabled'}`, true);
  if (!r.ok) return message(`${action} failed (${r.status}): ${r.body && r.body.message || ''}`, true);
  message(`${c.name}: ${action}d`, false);
  loadDirectory();
}

let searchTimer;
$('#dir-q').addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(loadDirectory, 200);
});
$('#dir-form').addEventListener('submit', (e) => { e.preventDefault(); loadDirectory(); });

// ---------------------------------------------------------------- live updates

function connect() {
  const conn = $('#conn');
  const es = new EventSource('/events');
  es.addEventListener('open', () => { conn.textContent = 'live'; conn.className = 'conn up'; });
  es.addEventListener('status', (e) => {
    try { status = JSON.parse(e.data); } catch { return; }
    document.body.dataset.updated = String(Date.now());
    render();
  });
  es.addEventListener('heartbeat', () => { conn.textContent = 'live'; conn.className = 'conn up'; });
  es.addEventListener('error', () => {
    conn.textContent = 'reconnecting…';
    conn.className = 'conn down';
    // A dropped stream is retried by EventSource itself (the server's retry:
    // 2000); a refused one (503: too many pages open) is closed for good, so
    // try again later.
    if (es.readyState === EventSource.CLOSED) setTimeout(connect, 5000);
  });
}

// Uptimes move between status events.
setInterval(render, 1000);
connect();
loadDirectory();
loadHistory();
