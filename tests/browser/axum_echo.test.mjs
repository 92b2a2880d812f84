// Opens a WebSocket from headless Chromium to the axum example
// (examples/axum_server.rs, which uses rfc6455::axum::WebSocketUpgrade) and
// checks that permessage-deflate was agreed (in shared mode) and that messages come back
// unchanged. Run by scripts/browser.sh:
//
//   node axum_echo.test.mjs http://127.0.0.1:PORT
//
// Prints one line per check and closes with "browser: N passed, M failed";
// exits non-zero if any check failed.
import { Checks, assert, launch } from './harness.mjs';

const base = process.argv[2];
if (!base) {
  console.error('usage: node axum_echo.test.mjs http://127.0.0.1:PORT');
  process.exit(2);
}
const wsUrl = base.replace(/^http/, 'ws') + '/ws';

const checks = new Checks();
const check = (name, fn) => checks.check(name, fn);

const browser = await launch();

try {
  const page = await browser.newPage();
  page.setDefaultTimeout(10000);
  await check('the page is served at /', async () => {
    const response = await page.goto(base + '/');
    assert(response.status() === 200, `status ${response.status()}`);
  });

  // Everything below runs in the page: one WebSocket, each message sent and
  // its echo awaited before the next, then a clean close.
  const result = await page.evaluate(async (url) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    const queue = [];
    let waiting = null;
    ws.onmessage = (event) => {
      if (waiting) {
        waiting(event.data);
        waiting = null;
      } else queue.push(event.data);
    };
    const next = () =>
      queue.length > 0
        ? Promise.resolve(queue.shift())
        : new Promise((resolve, reject) => {
            waiting = resolve;
            setTimeout(() => reject(new Error('no echo within 5 s')), 5000);
          });
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error('the WebSocket failed to open'));
    });
    const bytes = new Uint8Array(256 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) % 251;
    const sent = [
      'hello',
      'héllo wörld ✓ 😀',
      '',
      'compress me '.repeat(100000),
      new Uint8Array([...Array(256).keys()]),
      bytes,
    ];
    const same = (a, b) => {
      if (typeof a === 'string') return a === b;
      if (!(b instanceof ArrayBuffer)) return false;
      const c = new Uint8Array(b);
      return c.length === a.length && c.every((x, i) => x === a[i]);
    };
    const echoes = [];
    for (const message of sent) {
      ws.send(message);
      const echo = await next();
      echoes.push({ length: message.length, same: same(message, echo) });
    }
    const closed = new Promise((resolve) => {
      ws.onclose = (event) => resolve({ code: event.code, wasClean: event.wasClean });
    });
    ws.close(1000, 'bye');
    return { extensions: ws.extensions, echoes, close: await closed };
  }, wsUrl);

  await check('permessage-deflate is agreed with Chromium, in shared mode', () => {
    assert(result.extensions.includes('permessage-deflate'), `extensions: "${result.extensions}"`);
    // The extractor's default is shared mode, as the deflate docs recommend
    // for browsers; Chromium accepts both parameters it did not offer.
    assert(/server_no_context_takeover/.test(result.extensions) && /client_no_context_takeover/.test(result.extensions),
      `extensions: "${result.extensions}"`);
  });
  await check('text, empty, 1.2 MB compressible and binary messages come back unchanged', () => {
    const bad = result.echoes.filter((e) => !e.same);
    assert(result.echoes.length === 6, `${result.echoes.length} echoes`);
    assert(bad.length === 0, `changed: ${JSON.stringify(bad)}`);
  });
  await check('the close handshake ends cleanly with 1000', () => {
    assert(result.close.wasClean && result.close.code === 1000, JSON.stringify(result.close));
  });
} catch (e) {
  checks.fail('the run stopped', e);
} finally {
  await browser.close().catch(() => {});
}

checks.finish();
