// A raw WebSocket client in its own process, for chat.test.mjs: signs in as
// NAME, opens the chat over a plain TCP socket, answers every ping with a
// pong and ignores everything else. Prints "open" once the 101 arrived.
// Stopped with SIGSTOP it answers nothing more, as a machine that vanished.
//
//   node pinged_client.mjs http://127.0.0.1:PORT NAME
import net from 'node:net';

const [base, name] = process.argv.slice(2);
const { hostname, port } = new URL(base);
const login = await fetch(`${base}/login`, { method: 'POST', body: new URLSearchParams({ name }) });
const { token } = await login.json();

// A masked client frame with a short payload (control frames are at most
// 125 bytes). The all-zero mask leaves the payload as it is.
const frame = (opcode, payload) => Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length, 0, 0, 0, 0]), payload]);

const socket = net.connect(Number(port), hostname, () =>
  socket.write(
    `GET /?token=${token} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  ),
);
let buffer = Buffer.alloc(0);
let open = false;
socket.on('data', (chunk) => {
  buffer = Buffer.concat([buffer, chunk]);
  if (!open) {
    const end = buffer.indexOf('\r\n\r\n');
    if (end < 0) return;
    open = true;
    buffer = buffer.subarray(end + 4);
    console.log('open');
  }
  // Server frames are never masked.
  while (buffer.length >= 2) {
    let len = buffer[1] & 0x7f;
    let at = 2;
    if (len === 126) {
      if (buffer.length < 4) return;
      len = buffer.readUInt16BE(2);
      at = 4;
    } else if (len === 127) {
      if (buffer.length < 10) return;
      len = Number(buffer.readBigUInt64BE(2));
      at = 10;
    }
    if (buffer.length < at + len) return;
    if ((buffer[0] & 0x0f) === 0x9) socket.write(frame(0xa, buffer.subarray(at, at + len)));
    buffer = buffer.subarray(at + len);
  }
});
socket.on('close', () => process.exit(0));
socket.on('error', () => process.exit(1));
