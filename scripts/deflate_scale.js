// The Node side of scripts/deflate_scale.sh, on the `ws` package (8.x).
//
//   node deflate_scale.js server PORT
//       a `ws` echo server with perMessageDeflate: true (its defaults)
//   node deflate_scale.js client URL N
//       N connections that offer what Chromium offers
//       (`permessage-deflate; client_max_window_bits`) and, as Chromium does,
//       compress every message; each sends 5 chat-like JSON messages of
//       200 B to 2 KiB, waits for their echoes, then stays idle. Prints
//       "idle N" once all are idle, and exits when stdin closes.
'use strict';
const { WebSocket, WebSocketServer } = require('ws');

const [mode, where, count] = process.argv.slice(2);

if (mode === 'server') {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(where), perMessageDeflate: true });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  wss.on('listening', () => console.log('listening'));
} else if (mode === 'client') {
  const n = Number(count);
  const sizes = [200, 600, 1000, 1500, 2048];
  const message = (i, size) => {
    let text = '';
    for (let k = 0; text.length < size; k++) {
      text += JSON.stringify({ room: 'general', from: `user${(i + k) % 97}`, text: `hello ${k}, how is it going?`, at: 1700000000 + k });
    }
    return text.slice(0, size);
  };
  const open = [];
  let idle = 0;
  let started = 0;
  const CONCURRENT = 100;
  const start = () => {
    if (started >= n) return;
    const i = started++;
    const ws = new WebSocket(where, { perMessageDeflate: { threshold: 0 } });
    open.push(ws);
    let echoed = 0;
    ws.on('open', () => sizes.forEach((size) => ws.send(message(i, size))));
    ws.on('message', () => {
      if (++echoed === sizes.length) {
        if (++idle === n) console.log(`idle ${n}`);
        start();
      }
    });
    ws.on('error', (e) => { console.error(`connection ${i}: ${e.message}`); process.exit(1); });
  };
  for (let k = 0; k < Math.min(CONCURRENT, n); k++) start();
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
} else {
  console.error('usage: deflate_scale.js server PORT | client URL N');
  process.exit(2);
}
