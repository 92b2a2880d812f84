// The chat page's script: sign in over plain HTTP, then talk JSON over the
// browser's own WebSocket. The message types are described in
// examples/chat/main.rs.
//
// Staying connected: the page sends a `ping` message every `heartbeat` ms (the
// server says how often in `hello`) and takes the connection for dead when
// nothing at all came for two heartbeats and a second: browsers answer the
// server's WebSocket pings but cannot send their own or see them. A dead or
// closed connection is reconnected with backoff, signing in again if the
// server no longer takes the token (it restarted); back, the page joins its
// rooms again and shows only the history it missed. Signing out never
// reconnects.
//
// Everything a peer sent is put on the page with textContent, never innerHTML:
// a message "<img src=x onerror=alert(1)>" shows as those characters.
'use strict';

const $ = (id) => document.getElementById(id);

let me = null;        // our user name, once signed in
let token = null;     // our token; null when it must be fetched again
let socket = null;    // the WebSocket, while one is open or opening
let users = [];       // who is online, as the server last said
const rooms = new Set(); // the rooms we are in now
const wanted = new Set(); // the rooms to be in again after a reconnect
const seen = new Set();   // messages shown, so that history shows only what was missed
let signedOut = false;
let attempt = 0;          // reconnect attempts since the last open
let reconnectTimer = null;
let heartbeatTimer = null;
let heartbeat = 5000;     // ms between our pings; the server's hello sets it
let lastHeard = 0;        // when anything last came from the server
const BACKOFF_FIRST = 250;
const BACKOFF_MAX = 5000;

function setStatus(text) {
  $('status').textContent = text;
}

// Adds one line to the message log. `parts` are [className, text] pairs.
function addLine(type, parts, extraClass) {
  const li = document.createElement('li');
  li.className = type + (extraClass ? ' ' + extraClass : '');
  li.dataset.type = type;
  for (const [className, text] of parts) {
    const span = document.createElement('span');
    span.className = className;
    span.textContent = text;
    li.append(span);
  }
  const log = $('messages');
  log.append(li);
  log.scrollTop = log.scrollHeight;
}

function clock(ms) {
  return new Date(ms).toTimeString().slice(0, 5);
}

const messageKey = (m) => JSON.stringify([m.type, m.room ?? null, m.from, m.to ?? null, m.time, m.text]);

// Shows a group, private or room message (live or from history), once.
function showMessage(msg, extraClass) {
  const key = messageKey(msg);
  if (seen.has(key)) return;
  seen.add(key);
  let where = '';
  if (msg.type === 'private') where = msg.from === me ? `to ${msg.to}` : 'private';
  if (msg.type === 'room') where = `#${msg.room}`;
  addLine(msg.type, [
    ['meta', clock(msg.time) + (where ? ' ' + where : '')],
    ['from', msg.from],
    ['text', msg.text],
  ], extraClass);
}

function renderUsers() {
  const list = $('users');
  list.replaceChildren();
  for (const name of users) {
    const li = document.createElement('li');
    li.textContent = name;
    li.dataset.user = name;
    if (name === me) li.className = 'me';
    list.append(li);
  }
  renderTargets();
}

function renderRooms() {
  const list = $('rooms');
  list.replaceChildren();
  for (const room of [...rooms].sort()) {
    const li = document.createElement('li');
    li.dataset.room = room;
    const label = document.createElement('span');
    label.textContent = '#' + room;
    const leave = document.createElement('button');
    leave.type = 'button';
    leave.textContent = 'Leave';
    leave.dataset.testid = 'leave-' + room;
    leave.addEventListener('click', () => send({ type: 'leave', room }));
    li.append(label, leave);
    list.append(li);
  }
  renderTargets();
}

// The target selector: everyone, each room we are in, each other user.
function renderTargets() {
  const select = $('target');
  const previous = select.value;
  select.replaceChildren(new Option('Everyone', 'all'));
  for (const room of [...rooms].sort()) select.append(new Option('#' + room, 'room:' + room));
  for (const name of users) {
    if (name !== me) select.append(new Option('@' + name, 'user:' + name));
  }
  select.value = [...select.options].some((o) => o.value === previous) ? previous : 'all';
}

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function onServerMessage(event) {
  const msg = JSON.parse(event.data);
  switch (msg.type) {
    case 'hello':
      if (Number.isFinite(msg.heartbeat) && msg.heartbeat > 0) heartbeat = msg.heartbeat;
      startHeartbeat();
      break;
    case 'pong':
      break;
    case 'users': {
      const before = new Set(users);
      const now = new Set(msg.users);
      // Say who came and went, but not the whole list on our own arrival.
      if (before.size > 0) {
        for (const name of msg.users) if (!before.has(name)) addLine('system', [['text', `${name} came online`]]);
      }
      for (const name of users) if (!now.has(name)) addLine('system', [['text', `${name} went offline`]]);
      users = msg.users;
      renderUsers();
      break;
    }
    case 'group':
    case 'private':
    case 'room':
      showMessage(msg);
      break;
    case 'history': {
      const missed = msg.messages.filter((m) => !seen.has(messageKey(m)));
      if (missed.length > 0) {
        addLine('system', [['text', `last ${missed.length} messages` + (msg.room ? ` in #${msg.room}` : '')]]);
      }
      for (const m of missed) showMessage(m, 'history');
      break;
    }
    case 'join':
      if (msg.user === me) {
        rooms.add(msg.room);
        wanted.add(msg.room);
        renderRooms();
      }
      addLine('system', [['text', `${msg.user} joined #${msg.room} (${msg.members.join(', ')})`]]);
      break;
    case 'leave':
      if (msg.user === me) {
        rooms.delete(msg.room);
        wanted.delete(msg.room);
        renderRooms();
      }
      addLine('system', [['text', `${msg.user} left #${msg.room}`]]);
      break;
    case 'error':
      addLine('error', [['text', msg.message]]);
      break;
  }
}

function startHeartbeat() {
  clearInterval(heartbeatTimer);
  heartbeatTimer = setInterval(() => {
    if (!socket) return;
    if (Date.now() - lastHeard > 2 * heartbeat + 1000) {
      // Silent: the server or the path is dead. Give up on this socket
      // without waiting for a close handshake that cannot happen.
      lost(socket, 'no heartbeat', true);
      return;
    }
    send({ type: 'ping' });
  }, heartbeat);
}

function connect() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${scheme}//${location.host}/?token=${encodeURIComponent(token)}`);
  socket = ws;
  let opened = false;
  if (attempt === 0) setStatus('connecting…');
  ws.addEventListener('open', () => {
    if (socket !== ws) return;
    opened = true;
    if (attempt > 0) addLine('system', [['text', 'reconnected']]);
    attempt = 0;
    lastHeard = Date.now();
    document.body.dataset.connects = String(Number(document.body.dataset.connects ?? 0) + 1);
    delete document.body.dataset.reconnecting;
    setStatus(`signed in as ${me}`);
    for (const room of wanted) send({ type: 'join', room });
  });
  ws.addEventListener('message', (event) => {
    if (socket !== ws) return;
    lastHeard = Date.now();
    onServerMessage(event);
  });
  ws.addEventListener('close', (event) => {
    // A socket that never opened was refused: perhaps the server restarted
    // and no longer knows our token.
    if (!opened) token = null;
    lost(ws, `${event.code}${event.reason ? ' ' + event.reason : ''}`, opened, event.code);
  });
}

// The connection `ws` is over: show it, and reconnect unless we signed out.
function lost(ws, why, opened, code) {
  if (socket !== ws) return; // an older socket, already replaced
  socket = null;
  clearInterval(heartbeatTimer);
  if (opened && code === undefined) ws.close(); // silent: let it go
  document.body.dataset.closed = String(code ?? 'heartbeat');
  users = [];
  rooms.clear();
  renderUsers();
  renderRooms();
  if (signedOut) {
    setStatus(`disconnected (${why})`);
    return;
  }
  if (opened) addLine('system', [['text', `connection lost (${why}); reconnecting`]]);
  scheduleReconnect(why);
}

function scheduleReconnect(why) {
  attempt += 1;
  const base = Math.min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (attempt - 1));
  const delay = Math.round(base * (0.8 + 0.4 * Math.random()));
  document.body.dataset.reconnecting = String(attempt);
  setStatus(`reconnecting in ${(delay / 1000).toFixed(1)} s (${why})…`);
  clearTimeout(reconnectTimer);
  reconnectTimer = setTimeout(reconnect, delay);
}

async function reconnect() {
  if (signedOut) return;
  if (!token) {
    try {
      const answer = await login(me);
      if (!answer.ok) {
        // 409: the server still holds our old connection until its idle
        // timeout; try again later.
        scheduleReconnect(answer.error);
        return;
      }
      token = answer.token;
    } catch {
      scheduleReconnect('server unreachable');
      return;
    }
  }
  if (!signedOut) connect();
}

// Signs in over HTTP: { ok, name, token } or { ok: false, error }.
async function login(name) {
  const response = await fetch('/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ name }),
  });
  const answer = await response.json();
  return { ok: response.ok, ...answer };
}

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('login-error').textContent = '';
  const answer = await login($('name').value.trim());
  if (!answer.ok) {
    $('login-error').textContent = answer.error;
    return;
  }
  me = answer.name;
  token = answer.token;
  $('login-form').hidden = true;
  $('chat').hidden = false;
  $('logout').hidden = false;
  connect();
});

$('logout').addEventListener('click', () => {
  signedOut = true;
  clearTimeout(reconnectTimer);
  clearInterval(heartbeatTimer);
  if (socket) socket.close(1000, 'signed out');
  else setStatus('signed out');
  $('logout').hidden = true;
});

$('join-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const room = $('room').value.trim();
  if (room) send({ type: 'join', room });
  $('room').value = '';
});

$('send-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const text = $('text').value;
  if (!text) return;
  const target = $('target').value;
  if (target === 'all') send({ type: 'group', text });
  else if (target.startsWith('room:')) send({ type: 'room', room: target.slice(5), text });
  else if (target.startsWith('user:')) send({ type: 'private', to: target.slice(5), text });
  $('text').value = '';
});
