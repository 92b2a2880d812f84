// Drives two chat servers (examples/chat/ with --redis) joined through one
// Redis in headless Chromium, through the pages' own controls. Run by
// scripts/browser_redis.sh:
//
//   node chat_redis.test.mjs http://127.0.0.1:PORT1 http://127.0.0.1:PORT2 [screenshot.png]
//
// From the environment: CHAT_PIDS (the two servers' processes), CHAT_ARGS
// (their flags, with --presence-ttl), REDIS_SERVER, REDIS_CONF and
// REDIS_PIDFILE (to stop Redis and start it again).
//
// Prints one line per check and closes with "browser-redis: N passed, M
// failed"; exits non-zero if any check failed.
import { Checks, assert, launch } from './harness.mjs';
import net from 'node:net';
import fs from 'node:fs';
import { spawn } from 'node:child_process';

const [one, two] = process.argv.slice(2, 4);
const screenshot = process.argv[4] ?? 'chat-redis.png';
if (!one || !two) {
  console.error('usage: node chat_redis.test.mjs http://127.0.0.1:PORT1 http://127.0.0.1:PORT2 [screenshot.png]');
  process.exit(2);
}
const TIMEOUT = 5000; // every wait in a check
const serverArgs = (process.env.CHAT_ARGS ?? '').split(' ').filter(Boolean);
const ttlAt = serverArgs.indexOf('--presence-ttl');
const TTL = ttlAt >= 0 ? Number(serverArgs[ttlAt + 1]) * 1000 : 30000; // ms
const [pidOne] = (process.env.CHAT_PIDS ?? '').split(' ').map(Number);
const measured = [];
const children = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

const checks = new Checks('browser-redis');
const check = (name, fn) => checks.check(name, fn);

// --- page helpers (each takes the server the page is on) -------------------

async function signIn(page, base, name) {
  await page.goto(base + '/');
  await page.fill('#name', name);
  await page.click('#login');
  await page.waitForFunction((n) => document.getElementById('status').textContent === `signed in as ${n}`, name);
}

const usersOf = (page) => page.$$eval('#users li', (lis) => lis.map((li) => li.textContent));

async function waitUsers(page, expected, timeout = TIMEOUT) {
  try {
    await page.waitForFunction(
      (want) => JSON.stringify([...document.querySelectorAll('#users li')].map((li) => li.textContent)) === want,
      JSON.stringify(expected),
      { timeout },
    );
  } catch {
    throw new Error(`users ${JSON.stringify(await usersOf(page))}, expected ${JSON.stringify(expected)}`);
  }
}

async function say(page, target, text) {
  await page.selectOption('#target', target);
  await page.fill('#text', text);
  await page.click('#send');
}

// Sends a message the page's controls cannot (a target not in the list).
const sendRaw = (page, message) => page.evaluate((m) => socket.send(JSON.stringify(m)), message);

const textsOf = (page, type) =>
  page.$$eval(`#messages li[data-type="${type}"] .text`, (spans) => spans.map((s) => s.textContent));

async function waitLine(page, type, match, timeout = TIMEOUT) {
  const want = typeof match === 'string' ? { exact: match } : { part: match.part };
  try {
    await page.waitForFunction(
      ([t, w]) =>
        [...document.querySelectorAll(`#messages li[data-type="${t}"] .text`)].some((s) =>
          w.exact !== undefined ? s.textContent === w.exact : s.textContent.includes(w.part),
        ),
      [type, want],
      { timeout },
    );
  } catch {
    throw new Error(`no ${type} line ${JSON.stringify(match)} on the page; it has ${JSON.stringify(await textsOf(page, type))}`);
  }
}

// Proves a page did NOT get `text`: `sender` (on the same server as the
// page) sends a group message after it; once that arrives, anything sent
// before it would have arrived too.
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

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const waitUntil = async (what, condition, ms) => {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (await condition()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
};

// A load balancer with one backend at a time: the page behind it reconnects
// to whichever server it points at.
function balancer(backend) {
  const target = { url: new URL(backend) };
  const sockets = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.url.port), target.url.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      s.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        point: (to) => (target.url = new URL(to)),
        close: () => {
          sockets.forEach((s) => s.destroy());
          server.close();
        },
      });
    }),
  );
}

// Redis: stopped with SIGTERM (the process named in its pid file), started
// again with the same configuration.
function stopRedis() {
  const pid = Number(fs.readFileSync(process.env.REDIS_PIDFILE, 'utf8').trim());
  process.kill(pid, 'SIGTERM');
  return waitUntil('Redis to stop', () => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  }, TIMEOUT);
}

function startRedis() {
  const redis = spawn(process.env.REDIS_SERVER ?? 'redis-server', [process.env.REDIS_CONF], { stdio: 'ignore', detached: true });
  redis.unref(); // the script stops it (its pid file) at the end
  return redis;
}

// --- the run ----------------------------------------------------------------

const browser = await launch();
const pageErrors = [];
async function newPage(label) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 640 } });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${label}: ${e.message}`));
  return page;
}

let lb;
try {
  const alice = await newPage('alice'); // on server 1
  const bob = await newPage('bob'); // on server 2
  const carol = await newPage('carol'); // on server 1

  await check('alice signs in on server 1 and says 22 things to the group', async () => {
    await signIn(alice, one, 'alice');
    for (let i = 1; i <= 22; i += 1) await say(alice, 'all', `early ${i}`);
    await waitLine(alice, 'group', 'early 22');
  });

  await check('bob, a newcomer on server 2, gets the last 20 group messages of server 1', async () => {
    await signIn(bob, two, 'bob');
    await bob.waitForFunction(() => document.querySelectorAll('#messages li.history').length === 20);
    const history = await bob.$$eval('#messages li.history .text', (s) => s.map((x) => x.textContent));
    const want = Array.from({ length: 20 }, (_, i) => `early ${i + 3}`);
    assert(JSON.stringify(history) === JSON.stringify(want), `history ${JSON.stringify(history)}`);
  });

  await check('one user list on both servers', async () => {
    await signIn(carol, one, 'carol');
    for (const page of [alice, bob, carol]) await waitUsers(page, ['alice', 'bob', 'carol']);
  });

  await check('a name taken on one server is refused on the other', async () => {
    const status = async (page, name) =>
      page.evaluate(async (n) => (await fetch('/login', { method: 'POST', body: new URLSearchParams({ name: n }) })).status, name);
    assert((await status(bob, 'alice')) === 409, 'alice (server 1) was not refused on server 2');
    assert((await status(alice, 'bob')) === 409, 'bob (server 2) was not refused on server 1');
    assert((await status(bob, 'erin')) === 200, 'a free name was refused');
  });

  await check('one who signs out on one server leaves the other\'s list at once', async () => {
    const erin = await newPage('erin');
    await signIn(erin, two, 'erin');
    await waitUsers(alice, ['alice', 'bob', 'carol', 'erin']);
    await erin.click('#logout');
    const out = Date.now();
    // Well within the presence TTL: the sign-out is published.
    await waitUsers(alice, ['alice', 'bob', 'carol'], TTL / 2);
    measured.push(`a sign-out on one server reached the other's list in ${Date.now() - out} ms`);
    await erin.context().close();
  });

  await check('group messages go both ways', async () => {
    await say(bob, 'all', 'hello from server 2');
    for (const page of [alice, bob, carol]) await waitLine(page, 'group', 'hello from server 2');
    await say(alice, 'all', 'hello from server 1');
    for (const page of [alice, bob, carol]) await waitLine(page, 'group', 'hello from server 1');
  });

  await check('private messages go both ways, to their target only', async () => {
    await say(alice, 'user:bob', 'psst bob, from server 1');
    await waitLine(bob, 'private', 'psst bob, from server 1');
    await waitLine(alice, 'private', 'psst bob, from server 1'); // the sender's copy
    await say(bob, 'user:alice', 'psst alice, from server 2');
    await waitLine(alice, 'private', 'psst alice, from server 2');
    await waitLine(bob, 'private', 'psst alice, from server 2');
    await assertNotReceived(carol, alice, 'psst alice, from server 2', 'marker after private');
  });

  await check('a private message to a name offline everywhere is refused to its sender', async () => {
    await sendRaw(bob, { type: 'private', to: 'nobody', text: 'anyone?' });
    await waitLine(bob, 'error', '"nobody" is not online');
  });

  await check('room messages go both ways, to the room only; joins list the members of both servers', async () => {
    await joinRoom(alice, 'dev');
    await joinRoom(bob, 'dev');
    await waitLine(alice, 'system', 'bob joined #dev (alice, bob)');
    await say(alice, 'room:dev', 'dev from server 1');
    await waitLine(bob, 'room', 'dev from server 1');
    await waitLine(alice, 'room', 'dev from server 1');
    await say(bob, 'room:dev', 'dev from server 2');
    await waitLine(alice, 'room', 'dev from server 2');
    await assertNotReceived(carol, alice, 'dev from server 2', 'marker after room');
  });

  await check('a room newcomer gets the room history written on both servers', async () => {
    await joinRoom(carol, 'dev');
    await carol.waitForFunction(() => {
      const history = [...document.querySelectorAll('#messages li.history .text')].map((s) => s.textContent);
      return history.includes('dev from server 1') && history.includes('dev from server 2');
    });
    await waitLine(bob, 'system', 'carol joined #dev (alice, bob, carol)');
  });

  await check('one who leaves a room is gone from it on both servers', async () => {
    await carol.click('[data-testid="leave-dev"]');
    await carol.waitForSelector('#rooms li[data-room="dev"]', { state: 'detached' });
    await waitLine(bob, 'system', 'carol left #dev');
    await say(bob, 'room:dev', 'dev after carol left');
    await waitLine(alice, 'room', 'dev after carol left');
    await assertNotReceived(carol, alice, 'dev after carol left', 'marker after leave');
  });

  // --- Redis stopped and started again ---------------------------------------

  await check('with Redis stopped, members of one server still talk, and senders are told what did not go through', async () => {
    await stopRedis();
    await say(alice, 'all', 'during the outage, from server 1');
    await waitLine(carol, 'group', 'during the outage, from server 1'); // same server
    await waitLine(alice, 'error', { part: 'Redis unavailable, delivered on this server only' });
    await say(bob, 'user:alice', 'private during the outage');
    await waitLine(bob, 'error', 'private message to alice not delivered: Redis unavailable');
    await say(alice, 'room:dev', 'dev during the outage');
    await waitLine(alice, 'error', { part: 'message to #dev ("dev during the outage") not delivered everywhere' });
    const status = await carol.evaluate(async () => (await fetch('/login', { method: 'POST', body: new URLSearchParams({ name: 'zed' }) })).status);
    assert(status === 503, `sign-in with Redis away answered ${status}`);
  });

  await check('after Redis restarts, the servers reconnect and messages flow again both ways', async () => {
    const started = Date.now();
    startRedis();
    // Until both subscriptions are back, a message says it reached fewer
    // servers than there are; send until one goes through.
    let n = 0;
    await waitUntil('a message from server 1 to reach server 2', async () => {
      n += 1;
      await say(alice, 'all', `after the restart ${n}`);
      try {
        await waitLine(bob, 'group', `after the restart ${n}`, 300);
        return true;
      } catch {
        return false;
      }
    }, 15000);
    measured.push(`messages crossed servers again ${((Date.now() - started) / 1000).toFixed(2)} s after Redis was started again`);
    await say(bob, 'all', 'server 2 after the restart');
    await waitLine(alice, 'group', 'server 2 after the restart');
    await waitLine(carol, 'group', 'server 2 after the restart');
    await say(bob, 'user:alice', 'private after the restart');
    await waitLine(alice, 'private', 'private after the restart');
    await say(alice, 'room:dev', 'dev after the restart');
    await waitLine(bob, 'room', 'dev after the restart');
    const outage = await bob.$$eval('#messages li .text', (s) => s.map((x) => x.textContent));
    assert(!outage.includes('during the outage, from server 1'), 'a message of the outage arrived late');
    for (const page of [alice, bob, carol]) await waitUsers(page, ['alice', 'bob', 'carol'], TTL + 2000);
  });

  // --- a server killed ---------------------------------------------------------

  lb = await balancer(one);
  const dave = await newPage('dave'); // behind the balancer: server 1, then 2
  await check('a page behind a balancer signs in on server 1 and joins a room', async () => {
    await signIn(dave, lb.url, 'dave');
    await joinRoom(dave, 'ops');
    await joinRoom(bob, 'ops');
    await waitLine(dave, 'system', 'bob joined #ops (bob, dave)');
    await waitUsers(bob, ['alice', 'bob', 'carol', 'dave']);
  });

  let killed = 0;
  await check(`SIGKILL server 1: its users leave server 2's list within the presence TTL (${TTL / 1000} s)`, async () => {
    await waitUsers(bob, ['alice', 'bob', 'carol', 'dave']);
    lb.point(two);
    process.kill(pidOne, 'SIGKILL');
    killed = Date.now();
    await waitUntil('alice and carol to leave the list', async () => {
      const users = await usersOf(bob);
      return !users.includes('alice') && !users.includes('carol');
    }, TTL + 5000);
    const after = (Date.now() - killed) / 1000;
    measured.push(`the users of a SIGKILLed server left the other's list after ${after.toFixed(2)} s (presence TTL ${TTL / 1000} s)`);
    // An entry lives at most the TTL after its last refresh; the survivor
    // reads the list every third of the TTL.
    assert(after <= (TTL * 4) / 3 / 1000 + 1, `left only after ${after} s`);
  });

  await check('the page behind the balancer comes back on server 2 with its name and its rooms', async () => {
    await dave.waitForFunction(() => document.getElementById('status').textContent === 'signed in as dave', null, {
      timeout: TTL + 10000,
    });
    measured.push(`the page was back on the other server ${((Date.now() - killed) / 1000).toFixed(2)} s after its server was killed`);
    await dave.waitForSelector('#rooms li[data-room="ops"]');
    await waitUsers(bob, ['bob', 'dave']);
    await waitUsers(dave, ['bob', 'dave']);
    await say(dave, 'room:ops', 'ops from dave, now on server 2');
    await waitLine(bob, 'room', 'ops from dave, now on server 2');
    await say(bob, 'user:dave', 'welcome over, dave');
    await waitLine(dave, 'private', 'welcome over, dave');
  });

  await check('no script error on any page', async () => {
    assert(pageErrors.length === 0, pageErrors.join('; '));
  });

  await bob.screenshot({ path: screenshot, fullPage: true });
  console.log(`screenshot: ${screenshot}`);
} catch (e) {
  checks.fail('the run stopped', e);
} finally {
  lb?.close();
  await browser.close().catch(() => {});
}

for (const line of measured) console.log(`measured: ${line}`);
checks.finish();
