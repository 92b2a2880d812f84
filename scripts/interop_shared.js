// Node `ws` 8 against `echo_server --deflate shared` (RFC 7692).
//
// Offers what Chromium offers (`permessage-deflate; client_max_window_bits`,
// ws' default), then checks that the server answered shared mode
// (`server_no_context_takeover; client_no_context_takeover`), that chat-like
// JSON messages of 200 B to 2 KiB come back unchanged, that every frame the
// server sent has RSV1 set (parsed from the socket's bytes), and that the
// client's frames were compressed too (fewer bytes written than sent).
//
//   NODE_PATH=target/deflate-scale/node_modules node scripts/interop_shared.js ws://127.0.0.1:9001/
'use strict';
const WebSocket = require('ws');

const EXPECTED = 'permessage-deflate; server_no_context_takeover; client_no_context_takeover';
const fail = (why) => { console.error(`node ws: ${why}`); process.exit(1); };

function chat(i) {
  const words = ['hello', 'there', 'how', 'is', 'everyone', 'doing', 'today', 'fine'];
  const n = 30 + (i * 37) % 280;
  const text = Array.from({ length: n }, (_, k) => words[(i * 3 + k) % words.length]).join(' ');
  return JSON.stringify({ type: 'message', room: 'general', user: `user${i % 7}`, seq: i, text });
}

// The server's frames, parsed from the bytes the socket read after the
// handshake: unmasked, so a header is 2, 4 or 10 bytes.
const frames = [];
let pending = Buffer.alloc(0);
function parse(chunk) {
  pending = Buffer.concat([pending, chunk]);
  for (;;) {
    if (pending.length < 2) return;
    let len = pending[1] & 0x7f;
    let at = 2;
    if (len === 126) { if (pending.length < 4) return; len = pending.readUInt16BE(2); at = 4; }
    else if (len === 127) { if (pending.length < 10) return; len = Number(pending.readBigUInt64BE(2)); at = 10; }
    if (pending.length < at + len) return;
    frames.push({ rsv1: (pending[0] & 0x40) !== 0, opcode: pending[0] & 0x0f });
    pending = pending.subarray(at + len);
  }
}

const ws = new WebSocket(process.argv[2], { perMessageDeflate: { threshold: 0 } });
let answer;
ws.on('upgrade', (res) => { answer = res.headers['sec-websocket-extensions']; });
ws.on('error', (e) => fail(e.message));
ws.on('open', () => {
  if (answer !== EXPECTED) fail(`answer ${JSON.stringify(answer)}, expected ${EXPECTED}`);
  ws._socket.on('data', parse);
  const sizes = [];
  let i = 0;
  let sent = 0;
  const written = ws._socket.bytesWritten;
  const next = () => {
    const message = chat(i);
    sizes.push(message.length);
    sent += message.length;
    ws.send(message);
  };
  ws.on('message', (data, binary) => {
    if (binary || data.toString() !== chat(i)) fail(`message ${i}: echo differs`);
    i += 1;
    if (i < 10) return next();
    const data_frames = frames.filter((f) => f.opcode < 8);
    if (data_frames.length !== 10 || data_frames.some((f) => !f.rsv1)) {
      fail(`server frames ${JSON.stringify(data_frames)}: expected 10, all with RSV1`);
    }
    const wire = ws._socket.bytesWritten - written;
    if (wire * 2 > sent) fail(`${wire} bytes written for ${sent} bytes of text: not compressed`);
    if (Math.min(...sizes) < 200 || Math.max(...sizes) > 2048) fail(`sizes ${sizes}`);
    console.log(`node ws ${require('ws/package.json').version}: ${answer}; 10 messages of ` +
      `${Math.min(...sizes)} to ${Math.max(...sizes)} B echoed, RSV1 on all 10 received frames, ` +
      `${wire} bytes written for ${sent} of text`);
    ws.close(1000);
  });
  next();
});
