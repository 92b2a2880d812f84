#!/usr/bin/env python3
"""Python `websockets` receives prepared messages from rfc6455.

Run by tests/interop_python.rs (see .ci/run, which makes a venv with
`websockets` in it): `interop_prepared.py ws://127.0.0.1:PORT/`.

Two clients connect at once: one offers permessage-deflate with
`server_no_context_takeover` (the server then sends every compressible
message compressed once, shared by every such connection), the other offers
no compression. Both must receive the same messages, whole and in order;
the script checks each byte for byte against what tests/interop_python.rs
sends, and checks what each handshake agreed. Prints one line per client
and exits 1 on the first difference.
"""

import asyncio
import sys

from websockets.asyncio.client import connect
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory


def expected():
    """The messages of tests/interop_python.rs, in order (keep in step)."""
    # A short text: under the compression threshold, sent as it is.
    yield "hello, prepared"
    # A compressible text of 4 KiB: compressed when deflate was agreed.
    yield "".join(f'{{"id":{i},"name":"item{i % 10}"}},' for i in range(400))[:4096]
    # A binary pattern of 100,000 bytes: several frames of 16 KiB at most.
    yield bytes((i * 7 + i // 251 + 1) % 256 for i in range(100_000))
    # Noise that does not shrink: uncompressed even with deflate.
    x = 0x2545F491
    noise = bytearray()
    for _ in range(3000):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        noise.append(x & 0xFF)
    yield bytes(noise)
    # An empty text.
    yield ""


async def client(url, compressed):
    if compressed:
        options = dict(
            compression=None,
            extensions=[
                ClientPerMessageDeflateFactory(
                    server_no_context_takeover=True,
                    client_max_window_bits=True,
                )
            ],
        )
    else:
        options = dict(compression=None)
    name = "deflate" if compressed else "plain"
    async with connect(url, max_size=1 << 20, **options) as ws:
        agreed = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        if compressed:
            assert agreed.startswith("permessage-deflate"), agreed
            assert "server_no_context_takeover" in agreed, agreed
        else:
            assert agreed == "", agreed
        count = 0
        for index, want in enumerate(expected()):
            got = await ws.recv()
            assert type(got) is type(want), f"{name}: message {index} is {type(got)}"
            assert got == want, f"{name}: message {index} differs ({len(got)} vs {len(want)} long)"
            count += 1
        await ws.close()
    print(f"interop: {name} client got {count} prepared messages whole ({agreed or 'no extension'})")


async def main(url):
    await asyncio.wait_for(asyncio.gather(client(url, True), client(url, False)), 60)


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1]))
    except AssertionError as e:
        print(f"interop: FAILED: {e}", file=sys.stderr)
        sys.exit(1)
