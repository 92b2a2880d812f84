// A TCP relay between a page and a server that counts the WebSocket frames
// passing each way and how many data frames have RSV1 set (compressed,
// RFC 7692 section 6), so a test can see that Chromium and the server
// really exchange compressed messages: the page's own API does not say.
//
//   const relay = await frameCounter('127.0.0.1', 3000);
//   await page.goto(relay.url + '/');   // HTTP and WebSocket go through it
//   relay.counts.up.compressed, relay.counts.down.compressed, relay.counts.answers
//
// Only connections whose first request is a WebSocket upgrade are parsed;
// the others are relayed untouched.
import net from 'node:net';

// Parses the frames of one direction after its HTTP head; `heads` gets the
// head (the request or the 101 answer).
function direction(count, heads) {
  let buf = Buffer.alloc(0);
  let inHead = true;
  let skip = 0; // payload bytes of the current frame still to pass
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    if (inHead) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      heads.push(buf.subarray(0, end).toString('latin1'));
      buf = buf.subarray(end + 4);
      inHead = false;
    }
    for (;;) {
      if (skip > 0) {
        const n = Math.min(skip, buf.length);
        buf = buf.subarray(n);
        skip -= n;
        if (skip > 0) return;
      }
      if (buf.length < 2) return;
      const len7 = buf[1] & 0x7f;
      const masked = (buf[1] & 0x80) !== 0;
      let header = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0);
      if (buf.length < header) return;
      const len = len7 === 126 ? buf.readUInt16BE(2) : len7 === 127 ? Number(buf.readBigUInt64BE(2)) : len7;
      const opcode = buf[0] & 0x0f;
      count.frames += 1;
      // Text, binary: RSV1 on a message's first frame means compressed.
      if ((opcode === 1 || opcode === 2) && (buf[0] & 0x40) !== 0) count.compressed += 1;
      if (opcode === 1 || opcode === 2) count.data += 1;
      buf = buf.subarray(header);
      skip = len;
    }
  };
}

export async function frameCounter(host, port) {
  const counts = {
    up: { frames: 0, data: 0, compressed: 0 },
    down: { frames: 0, data: 0, compressed: 0 },
    requests: [],
    answers: [],
  };
  const relay = net.createServer((client) => {
    const server = net.connect(port, host);
    let parse = null; // decided by the first request head
    let first = Buffer.alloc(0);
    let up = null;
    let down = null;
    client.on('data', (chunk) => {
      if (parse === null) {
        first = Buffer.concat([first, chunk]);
        const end = first.indexOf('\r\n\r\n');
        if (end < 0) return;
        parse = /^upgrade:\s*websocket/im.test(first.subarray(0, end).toString('latin1'));
        if (parse) {
          up = direction(counts.up, counts.requests);
          down = direction(counts.down, counts.answers);
        }
        chunk = first;
      }
      if (up) up(chunk);
      server.write(chunk);
    });
    server.on('data', (chunk) => {
      if (down) down(chunk);
      client.write(chunk);
    });
    const end = () => {
      client.destroy();
      server.destroy();
    };
    for (const socket of [client, server]) {
      socket.on('error', end);
      socket.on('close', end);
    }
  });
  await new Promise((resolve) => relay.listen(0, '127.0.0.1', resolve));
  relay.unref();
  return { url: `http://127.0.0.1:${relay.address().port}`, counts, close: () => relay.close() };
}
