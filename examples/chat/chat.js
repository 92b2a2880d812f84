// The chat page's script: sign in over plain HTTP, then talk JSON over the
// browser's own WebSocket. The message types are described in examples/chat.rs.
//
// Everything a peer sent is put on the page with textContent, never innerHTML:
// a message "<img src=x onerror=alert(1)>" shows as those characters.
'use strict';

const $ = (id) => document.getElementById(id);

let me = null;        // our user name, once signed in
let socket = null;    // the WebSocket, once signed in
let users = [];       // who is online, as the server last said
const rooms = new Set(); // the rooms we are in

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

// Shows a group, private or room message (live or from history).
function showMessage(msg, extraClass) {
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
    case 'history':
      if (msg.messages.length > 0) {
        addLine('system', [['text', `last ${msg.messages.length} messages` + (msg.room ? ` in #${msg.room}` : '')]]);
      }
      for (const m of msg.messages) showMessage(m, 'history');
      break;
    case 'join':
      if (msg.user === me) {
        rooms.add(msg.room);
        renderRooms();
      }
      addLine('system', [['text', `${msg.user} joined #${msg.room} (${msg.members.join(', ')})`]]);
      break;
    case 'leave':
      if (msg.user === me) {
        rooms.delete(msg.room);
        renderRooms();
      }
      addLine('system', [['text', `${msg.user} left #${msg.room}`]]);
      break;
    case 'error':
      addLine('error', [['text', msg.message]]);
      break;
  }
}

function connect(token) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  socket = new WebSocket(`${scheme}//${location.host}/?token=${encodeURIComponent(token)}`);
  setStatus('connecting…');
  socket.addEventListener('open', () => setStatus(`signed in as ${me}`));
  socket.addEventListener('message', onServerMessage);
  socket.addEventListener('close', (event) => {
    setStatus(`disconnected (${event.code}${event.reason ? ' ' + event.reason : ''})`);
    document.body.dataset.closed = String(event.code);
    users = [];
    rooms.clear();
    renderUsers();
    renderRooms();
  });
}

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('login-error').textContent = '';
  const name = $('name').value.trim();
  const response = await fetch('/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ name }),
  });
  const answer = await response.json();
  if (!response.ok) {
    $('login-error').textContent = answer.error;
    return;
  }
  me = answer.name;
  $('login-form').hidden = true;
  $('chat').hidden = false;
  $('logout').hidden = false;
  connect(answer.token);
});

$('logout').addEventListener('click', () => {
  if (socket) socket.close(1000, 'signed out');
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
