"""Python `websockets` against `echo_server --deflate shared` (RFC 7692).

Offers what Chromium offers (`permessage-deflate; client_max_window_bits`,
websockets' default), then checks that the server answered shared mode
(`server_no_context_takeover; client_no_context_takeover`), that chat-like
JSON messages of 200 B to 2 KiB come back unchanged, and that every data
frame sent and received carried RSV1 (compressed). Exits non-zero on any
difference.

    python scripts/interop_shared.py ws://127.0.0.1:9001/
"""

import asyncio
import json
import sys

from websockets.asyncio.client import connect
from websockets.extensions import permessage_deflate
from websockets.frames import DATA_OPCODES

EXPECTED = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

rsv1 = {"sent": 0, "received": 0, "sent_plain": 0, "received_plain": 0}
_encode = permessage_deflate.PerMessageDeflate.encode
_decode = permessage_deflate.PerMessageDeflate.decode


def encode(self, frame):
    out = _encode(self, frame)
    if out.opcode in DATA_OPCODES:
        rsv1["sent" if out.rsv1 else "sent_plain"] += 1
    return out


def decode(self, frame, *, max_size=None):
    if frame.opcode in DATA_OPCODES:
        rsv1["received" if frame.rsv1 else "received_plain"] += 1
    return _decode(self, frame, max_size=max_size)


permessage_deflate.PerMessageDeflate.encode = encode
permessage_deflate.PerMessageDeflate.decode = decode


def chat(i):
    """A chat-like JSON message of 200 B to 2 KiB."""
    words = ["hello", "there", "how", "is", "everyone", "doing", "today", "fine"]
    text = " ".join(words[(i * 3 + k) % len(words)] for k in range(30 + i * 37 % 280))
    return json.dumps({"type": "message", "room": "general", "user": f"user{i % 7}",
                       "seq": i, "text": text})


async def main(url):
    async with connect(url) as ws:
        answer = ws.response.headers.get("Sec-WebSocket-Extensions")
        if answer != EXPECTED:
            sys.exit(f"answer {answer!r}, expected {EXPECTED!r}")
        sizes = []
        for i in range(10):
            message = chat(i)
            sizes.append(len(message))
            await ws.send(message)
            back = await ws.recv()
            if back != message:
                sys.exit(f"message {i}: echo differs")
        if not (min(sizes) >= 200 and max(sizes) <= 2048):
            sys.exit(f"sizes {sizes} not within 200 B to 2 KiB")
        if rsv1["sent"] != 10 or rsv1["received"] != 10 or rsv1["sent_plain"] or rsv1["received_plain"]:
            sys.exit(f"frames with RSV1: {rsv1}, expected 10 each way and none plain")
    print(f"python websockets: {answer}; 10 messages of {min(sizes)} to {max(sizes)} B "
          f"echoed, RSV1 on {rsv1['sent']} sent and {rsv1['received']} received frames")


asyncio.run(main(sys.argv[1]))
