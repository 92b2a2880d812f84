// Drives the chat example (examples/chat/) in headless Chromium with three
// users, through the page's own controls. Run by scripts/browser.sh:
//
//   node chat.test.mjs http://127.0.0.1:PORT path/to/screenshot.png
//
// With CHAT_PID, CHAT_BIN and CHAT_ARGS in the environment (the server's
// process, binary and timer flags, which must be `--keepalive K
// --idle-timeout I`), it also kills the server and starts it again on the same
// address, and checks that the pages reconnect by themselves.
//
// Prints one line per check and closes with "browser: N passed, M failed";
// exits non-zero if any check failed.
import { Checks, assert, launch } from './harness.mjs';
import { frameCounter } from './frame_counter.mjs';
import net from 'node:net';
import fs from 'node:fs';
import { spawn } from 'node:child_process';

const base = process.argv[2];
const screenshot = process.argv[3] ?? 'chat.png';
if (!base) {
  console.error('usage: node chat.test.mjs http://127.0.0.1:PORT [screenshot.png]');
  process.exit(2);
}
const { hostname, port } = new URL(base);
const TIMEOUT = 5000; // every wait in a check
const serverArgs = (process.env.CHAT_ARGS ?? '').split(' ').filter(Boolean);
const flag = (name) => {
  const i = serverArgs.indexOf(name);
  return i >= 0 ? Number(serverArgs[i + 1]) * 1000 : undefined;
};
const IDLE = flag('--idle-timeout'); // ms, as the server was told
const measured = []; // the times to quote, printed at the end
const children = []; // processes to stop at the end
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

const checks = new Checks();
const check = (name, fn) => checks.check(name, fn);

// --- page helpers -----------------------------------------------------------

// `via`: another address to load the page from (the frame counter).
async function signIn(page, name, via = base) {
  await page.goto(via + '/');
  await page.fill('#name', name);
  await page.click('#login');
  await page.waitForFunction((n) => document.getElementById('status').textContent === `signed in as ${n}`, name);
}

const usersOf = (page) => page.$$eval('#users li', (lis) => lis.map((li) => li.textContent));

async function waitUsers(page, expected) {
  try {
    await page.waitForFunction(
      (want) => JSON.stringify([...document.querySelectorAll('#users li')].map((li) => li.textContent)) === want,
      JSON.stringify(expected),
    );
  } catch {
    throw new Error(`users ${JSON.stringify(await usersOf(page))}, expected ${JSON.stringify(expected)}`);
  }
}

// target: 'all', 'room:NAME' or 'user:NAME'
async function say(page, target, text) {
  await page.selectOption('#target', target);
  await page.fill('#text', text);
  await page.click('#send');
}

// The texts of the message lines of one type ('group', 'private', 'room',
// 'system', 'error'), in order.
const linesOf = (page, type) =>
  page.$$eval(`#messages li[data-type="${type}"] .text`, (spans) => spans.map((s) => s.textContent));

async function waitLine(page, type, text) {
  try {
    await page.waitForFunction(
      ([t, want]) => [...document.querySelectorAll(`#messages li[data-type="${t}"] .text`)].some((s) => s.textContent === want),
      [type, text],
    );
  } catch {
    throw new Error(`no ${type} line ${JSON.stringify(text)} on the page`);
  }
}

// Proves a page did NOT get `text`: `sender` sends a group message after it,
// and once that arrives, anything sent before it would have arrived too (each
// client's queue keeps order).
async function assertNotReceived(page, sender, text, marker) {
  await say(sender, 'all', marker);
  await waitLine(page, 'group', marker);
  const all = await page.$$eval('#messages li .text', (spans) => spans.map((s) => s.textContent));
  assert(!all.includes(text), `${JSON.stringify(text)} reached a page it was not for`);
}

async function joinRoom(page, room) {
  await page.fill('#room', room);
  await page.click('#join');
  await page.waitForSelector(`#rooms li[data-room="${room}"]`);
}

// Opens a WebSocket from inside a page and reports what happened.
function tryWebSocket(page, url) {
  return page.evaluate(
    (u) =>
      new Promise((resolve) => {
        const seen = [];
        const ws = new WebSocket(u);
        ws.onopen = () => seen.push('open');
        ws.onerror = () => seen.push('error');
        ws.onclose = (e) => resolve({ seen, code: e.code });
        setTimeout(() => resolve({ seen, code: 'timeout' }), 4000);
      }),
    url,
  );
}

// Sends raw bytes to the server and returns its first answer line.
function rawRequest(text) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(text));
    let data = '';
    socket.setTimeout(TIMEOUT, () => {
      socket.destroy();
      reject(new Error('no answer'));
    });
    socket.on('data', (chunk) => (data += chunk));
    socket.on('end', () => resolve(data.split('\r\n')[0]));
    socket.on('error', reject);
  });
}

function upgradeRequest(target) {
  return (
    `GET ${target} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
  );
}

// --- raw WebSocket clients, for what a page cannot do (stop reading) -------

// Opens a WebSocket over a raw TCP socket; resolves once the 101 arrived.
// With `keep`, everything received (the 101 included) collects in
// `client.received`; without, what follows the 101 is read and dropped.
async function rawClient(name, keep) {
  const login = await fetch(`${base}/login`, { method: 'POST', body: new URLSearchParams({ name }) });
  const { token } = await login.json();
  return new Promise((resolve, reject) => {
    const client = { received: [], ended: false };
    const socket = net.connect(Number(port), hostname, () => socket.write(upgradeRequest(`/?token=${token}`)));
    client.socket = socket;
    const timer = setTimeout(() => reject(new Error(`${name}: no 101`)), TIMEOUT);
    let open = false;
    socket.on('data', (chunk) => {
      if (open && !keep) return; // read and drop
      client.received.push(chunk);
      if (!open && Buffer.concat(client.received).includes('\r\n\r\n')) {
        open = true;
        clearTimeout(timer);
        resolve(client);
      }
    });
    socket.on('close', () => (client.ended = true));
    socket.on('error', reject);
  });
}

// A client frame. Masked with an all-zero key (RFC 6455 section 5.3 asks for
// a random one; the server cannot tell), so the payload goes as it is.
function clientFrame(opcode, payload) {
  const head = Buffer.alloc(4);
  head[0] = 0x80 | opcode;
  head[1] = 0x80 | 126;
  head.writeUInt16BE(payload.length, 2);
  return Buffer.concat([head, Buffer.alloc(4), payload]);
}

// The server's frames after the 101 (they are never masked).
function serverFrames(bytes) {
  const frames = [];
  let i = bytes.indexOf('\r\n\r\n') + 4;
  while (i + 2 <= bytes.length) {
    let len = bytes[i + 1] & 0x7f;
    let at = i + 2;
    if (len === 126) {
      len = bytes.readUInt16BE(at);
      at += 2;
    } else if (len === 127) {
      len = Number(bytes.readBigUInt64BE(at));
      at += 8;
    }
    if (at + len > bytes.length) break;
    frames.push({ opcode: bytes[i] & 0x0f, payload: bytes.subarray(at, at + len) });
    i = at + len;
  }
  return frames;
}

const waitUntil = async (what, condition, ms) => {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
};

// --- the run ----------------------------------------------------------------

// One browser (a fresh temporary profile, deleted on close), one context per
// user: separate windows, so no page is a background tab that Chromium
// throttles, and no storage is shared between users.
const browser = await launch();

const dialogs = []; // any alert() means markup from a message ran
const pageErrors = [];
async function newPage(label) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 640 } });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  page.on('dialog', (d) => {
    dialogs.push(`${label}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => pageErrors.push(`${label}: ${e.message}`));
  return page;
}

try {
  const alice = await newPage('alice');
  const bob = await newPage('bob');
  const carol = await newPage('carol');

  await check('the page is served at / and alice signs in', () => signIn(alice, 'alice'));

  await check('a bad name is refused at sign-in', async () => {
    const answer = await alice.evaluate(async () => {
      const r = await fetch('/login', { method: 'POST', body: new URLSearchParams({ name: '<b>x</b>' }) });
      return r.status;
    });
    assert(answer === 400, `status ${answer}`);
  });

  // 22 group messages before anyone else comes: a newcomer gets the last 20.
  for (let i = 1; i <= 22; i += 1) await say(alice, 'all', `early ${i}`);
  await waitLine(alice, 'group', 'early 22');

  // Carol's page goes through a relay that counts compressed frames.
  const relay = await frameCounter(hostname, Number(port));
  await check('bob and carol sign in; everyone sees all three online', async () => {
    await signIn(bob, 'bob');
    await signIn(carol, 'carol', relay.url);
    for (const page of [alice, bob, carol]) await waitUsers(page, ['alice', 'bob', 'carol']);
  });

  await check('a newcomer gets the last 20 group messages', async () => {
    await bob.waitForFunction(() => document.querySelectorAll('#messages li.history').length === 20);
    const history = await bob.$$eval('#messages li.history .text', (s) => s.map((x) => x.textContent));
    const want = Array.from({ length: 20 }, (_, i) => `early ${i + 3}`);
    assert(JSON.stringify(history) === JSON.stringify(want), `history ${JSON.stringify(history)}`);
  });

  await check('the browser and the room agreed permessage-deflate', async () => {
    const extensions = await alice.evaluate(() => socket.extensions);
    assert(extensions.startsWith('permessage-deflate'), `extensions ${JSON.stringify(extensions)}`);
    // Shared mode, answered although Chromium offers neither: the room
    // compresses a message once for every member, and Chromium inflates
    // and compresses each message from an empty window.
    assert(extensions.includes('server_no_context_takeover'), `extensions ${JSON.stringify(extensions)}`);
    assert(extensions.includes('client_no_context_takeover'), `extensions ${JSON.stringify(extensions)}`);
    // A message long enough for the room to compress reaches everyone whole.
    const long = 'compressed both ways '.repeat(60).trim();
    await say(alice, 'all', long);
    for (const page of [alice, bob, carol]) await waitLine(page, 'group', long);
  });

  await check('Chromium and the room exchange compressed frames in shared mode (RSV1 both ways)', async () => {
    const answer = relay.counts.answers.find((a) => /^sec-websocket-extensions:/im.test(a)) ?? '';
    assert(/server_no_context_takeover/.test(answer) && /client_no_context_takeover/.test(answer),
      `carol's 101 answer: ${JSON.stringify(answer)}`);
    const before = { ...relay.counts.up };
    const long = 'carol compresses too '.repeat(60).trim();
    await say(carol, 'all', long);
    for (const page of [alice, bob, carol]) await waitLine(page, 'group', long);
    const { up, down } = relay.counts;
    assert(up.compressed > before.compressed, `carol sent no compressed frame: ${JSON.stringify(up)}`);
    // Alice's long message and carol's own, at least, came back compressed.
    assert(down.compressed >= 2, `carol got ${JSON.stringify(down)}`);
    measured.push(`carol's frames, compressed of data: sent ${up.compressed} of ${up.data}, received ${down.compressed} of ${down.data}`);
  });

  await check('a group message reaches everyone', async () => {
    await say(bob, 'all', 'hello all, from bob');
    for (const page of [alice, bob, carol]) await waitLine(page, 'group', 'hello all, from bob');
  });

  await check('a private message reaches its target only', async () => {
    await say(alice, 'user:bob', 'psst bob');
    await waitLine(bob, 'private', 'psst bob');
    await waitLine(alice, 'private', 'psst bob'); // the sender's copy
    await assertNotReceived(carol, alice, 'psst bob', 'marker after private');
  });

  await check('a room message reaches the room only', async () => {
    await joinRoom(alice, 'dev');
    await joinRoom(bob, 'dev');
    await waitLine(alice, 'system', 'bob joined #dev (alice, bob)');
    await say(alice, 'room:dev', 'dev talk');
    await waitLine(bob, 'room', 'dev talk');
    await waitLine(alice, 'room', 'dev talk');
    await assertNotReceived(carol, alice, 'dev talk', 'marker after room');
  });

  await check('a room newcomer gets the room history', async () => {
    await joinRoom(carol, 'dev');
    await carol.waitForFunction(() =>
      [...document.querySelectorAll('#messages li.history .text')].some((s) => s.textContent === 'dev talk'),
    );
  });

  await check('one who leaves a room gets its messages no more', async () => {
    await carol.click('[data-testid="leave-dev"]');
    await carol.waitForSelector('#rooms li[data-room="dev"]', { state: 'detached' });
    await waitLine(alice, 'system', 'carol left #dev');
    await say(alice, 'room:dev', 'dev talk 2');
    await waitLine(bob, 'room', 'dev talk 2');
    await assertNotReceived(carol, alice, 'dev talk 2', 'marker after leave');
  });

  const html = '<img src=x onerror=alert(1)>';
  await check('a message with HTML in it shows as text', async () => {
    await say(carol, 'all', html);
    for (const page of [alice, bob]) {
      await waitLine(page, 'group', html);
      const images = await page.$$eval('#messages img', (imgs) => imgs.length);
      assert(images === 0, `${images} <img> in the message log`);
    }
    assert(dialogs.length === 0, `dialogs: ${dialogs.join('; ')}`);
  });

  await check('a WebSocket with a forged token is refused in the page', async () => {
    // A real token for eve, with its name changed to bob's.
    const forged = await alice.evaluate(async () => {
      const r = await fetch('/login', { method: 'POST', body: new URLSearchParams({ name: 'eve' }) });
      const { token } = await r.json();
      return 'bob2' + token.slice(token.indexOf('.'));
    });
    const ws = `ws://${hostname}:${port}/?token=${encodeURIComponent(forged)}`;
    const result = await tryWebSocket(alice, ws);
    assert(!result.seen.includes('open') && result.seen.includes('error') && result.code === 1006, JSON.stringify(result));
  });

  await check('a WebSocket without a token is refused in the page', async () => {
    const result = await tryWebSocket(alice, `ws://${hostname}:${port}/`);
    assert(!result.seen.includes('open') && result.code === 1006, JSON.stringify(result));
  });

  await check('the raw upgrade answers 401 for a forged or missing token', async () => {
    const forged = await rawRequest(upgradeRequest('/?token=alice.' + '0'.repeat(40)));
    assert(forged === 'HTTP/1.1 401 Unauthorized', `forged: ${forged}`);
    const missing = await rawRequest(upgradeRequest('/'));
    assert(missing === 'HTTP/1.1 401 Unauthorized', `missing: ${missing}`);
  });

  await check('a user who signs out disappears from the others\' list', async () => {
    await carol.click('#logout');
    await carol.waitForFunction(() => document.body.dataset.closed === '1000');
    await waitUsers(alice, ['alice', 'bob']);
    await waitUsers(bob, ['alice', 'bob']);
  });

  await check('signing out does not reconnect', async () => {
    // Longer than the first few backoff steps.
    await new Promise((r) => setTimeout(r, 2000));
    const { connects, reconnecting, status } = await carol.evaluate(() => ({
      connects: document.body.dataset.connects,
      reconnecting: document.body.dataset.reconnecting,
      status: document.getElementById('status').textContent,
    }));
    assert(connects === '1' && reconnecting === undefined, `connects ${connects}, reconnecting ${reconnecting}`);
    assert(status.startsWith('disconnected (1000'), `status ${status}`);
    await waitUsers(alice, ['alice', 'bob']);
  });

  await check('a user who closes the page disappears too', async () => {
    await bob.close();
    await waitUsers(alice, ['alice']);
  });

  await check('a reader that falls behind is dropped and closed with 1008', async () => {
    const slow = await rawClient('slow', true);
    slow.socket.pause(); // reads nothing more: the kernel buffers fill, then its queue
    const flood = await rawClient('flood', false);
    await waitUsers(alice, ['alice', 'flood', 'slow']);
    // Private messages of 2000 three-byte characters, in batches, until the
    // server drops the slow reader (tens of MB at most).
    const frame = clientFrame(1, Buffer.from(JSON.stringify({ type: 'private', to: 'slow', text: '€'.repeat(2000) })));
    let sent = 0;
    for (; sent < 8000 && (await usersOf(alice)).includes('slow'); sent += 200) {
      await new Promise((r) => flood.socket.write(Buffer.concat(Array(200).fill(frame)), r));
    }
    await waitUsers(alice, ['alice', 'flood']);
    // Reading again, the slow client finds the server's close frame at the end.
    slow.socket.resume();
    let close;
    await waitUntil('the close frame', () => {
      close = serverFrames(Buffer.concat(slow.received)).find((f) => f.opcode === 8);
      return close !== undefined;
    }, 15000);
    const code = close.payload.readUInt16BE(0);
    assert(code === 1008, `close code ${code} after ${sent} messages`);
    slow.socket.write(clientFrame(8, close.payload.subarray(0, 2))); // answer the close
    await waitUntil('the server to end the slow connection', () => slow.ended, TIMEOUT);
    flood.socket.destroy();
    await waitUsers(alice, ['alice']);
  });

  if (IDLE !== undefined) {
    await check('a raw client stopped with SIGSTOP leaves the online list within the idle timeout', async () => {
      const child = spawn(process.execPath, [new URL('pinged_client.mjs', import.meta.url).pathname, base, 'frozen'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      await new Promise((resolve, reject) => {
        child.stdout.once('data', resolve);
        child.once('exit', () => reject(new Error('the raw client ended')));
      });
      await waitUsers(alice, ['alice', 'frozen']);
      // Answering the server's pings, it stays past the idle timeout.
      await new Promise((r) => setTimeout(r, IDLE + 500));
      await waitUsers(alice, ['alice', 'frozen']);
      child.kill('SIGSTOP');
      const stopped = Date.now();
      await waitUntil('frozen to leave the list', async () => !(await usersOf(alice)).includes('frozen'), IDLE + 5000);
      const after = (Date.now() - stopped) / 1000;
      measured.push(`a client stopped with SIGSTOP left the online list after ${after.toFixed(2)} s (idle timeout ${IDLE / 1000} s)`);
      assert(after <= IDLE / 1000 + 2, `removed only after ${after} s`);
      child.kill('SIGKILL');
    });
  }

  if (process.env.CHAT_PID && process.env.CHAT_BIN) {
    await check('after the server is killed and restarted, or stopped and resumed, each page reconnects by itself and chats again', async () => {
      const dave = await newPage('dave');
      await signIn(dave, 'dave');
      await joinRoom(dave, 'ops');
      await waitUsers(alice, ['alice', 'dave']);
      process.kill(Number(process.env.CHAT_PID), 'SIGKILL');
      const killed = Date.now();
      for (const page of [alice, dave]) {
        await page.waitForFunction(() => document.body.dataset.reconnecting !== undefined);
      }
      const log = fs.openSync(process.env.CHAT_LOG2 ?? 'chat-server-2.log', 'w');
      const server = spawn(process.env.CHAT_BIN, [`${hostname}:${port}`, ...serverArgs], { stdio: ['ignore', log, log] });
      children.push(server);
      const restarted = Date.now();
      for (const [page, name] of [[alice, 'alice'], [dave, 'dave']]) {
        await page.waitForFunction(
          (n) => document.getElementById('status').textContent === `signed in as ${n}`,
          name,
          { timeout: 15000 },
        );
      }
      const back = Date.now();
      measured.push(
        `pages reconnected ${((back - restarted) / 1000).toFixed(2)} s after the server restarted ` +
          `(${((back - killed) / 1000).toFixed(2)} s after it was killed)`,
      );
      for (const page of [alice, dave]) await waitUsers(page, ['alice', 'dave']);
      await dave.waitForSelector('#rooms li[data-room="ops"]'); // back in its room
      await say(dave, 'all', 'back after the restart');
      await waitLine(alice, 'group', 'back after the restart');
      await say(dave, 'room:ops', 'ops after the restart');
      await waitLine(dave, 'room', 'ops after the restart');

      // A server that goes silent without closing anything (stopped) is
      // found by the page's own heartbeat, and the page comes back after.
      const [page1, page2] = [alice, dave];
      const connects = await page1.evaluate(() => Number(document.body.dataset.connects));
      server.kill('SIGSTOP');
      const silent = Date.now();
      for (const page of [page1, page2]) {
        await page.waitForFunction(() => document.body.dataset.closed === 'heartbeat', null, { timeout: 10000 });
      }
      const noticed = (Date.now() - silent) / 1000;
      server.kill('SIGCONT');
      const resumed = Date.now();
      await page1.waitForFunction(
        (n) => Number(document.body.dataset.connects) > n && document.body.dataset.reconnecting === undefined,
        connects,
        { timeout: 15000 },
      );
      measured.push(
        `pages noticed a stopped (silent) server after ${noticed.toFixed(2)} s (heartbeat ${flag('--keepalive') / 1000} s) ` +
          `and reconnected ${((Date.now() - resumed) / 1000).toFixed(2)} s after it resumed`,
      );
      for (const page of [page1, page2]) await waitUsers(page, ['alice', 'dave']);
      await say(alice, 'all', 'after the silence');
      await waitLine(dave, 'group', 'after the silence');
    });
  }

  await check('no script error on any page', async () => {
    assert(pageErrors.length === 0, pageErrors.join('; '));
  });

  await alice.screenshot({ path: screenshot, fullPage: true });
  console.log(`screenshot: ${screenshot}`);
} catch (e) {
  checks.fail('the run stopped', e);
} finally {
  await browser.close().catch(() => {});
}

for (const line of measured) console.log(`measured: ${line}`);
checks.finish();
