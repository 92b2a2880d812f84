#!/usr/bin/env python3
"""Writes the committed seed inputs of every fuzz target into this folder.

Run it from anywhere after changing an input format (see each target's
doc comment); the files it writes are committed, so fuzzing needs no Python.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    os.makedirs(os.path.join(HERE, target), exist_ok=True)
    with open(os.path.join(HERE, target, name), "wb") as f:
        f.write(data)


def u16(n):
    return struct.pack("<H", n)


def mask(payload, key):
    return bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def frame(first, payload, key=None):
    """A frame on the wire: first byte as given, minimal length, masked if key."""
    n = len(payload)
    bit = 0x80 if key else 0
    if n < 126:
        head = bytes([first, bit | n])
    elif n < 65536:
        head = bytes([first, bit | 126]) + struct.pack(">H", n)
    else:
        head = bytes([first, bit | 127]) + struct.pack(">Q", n)
    if key:
        return head + bytes(key) + mask(payload, key)
    return head + payload


KEY = [0x37, 0xFA, 0x21, 0x3D]  # RFC 6455 section 5.7
H = bytes.fromhex

# ---- frame_header: first byte = RSV bits claimed by extensions, then the wire.
for name, data in {
    "5.7-unmasked-text-hello": "00 81 05 48 65 6c 6c 6f",
    "5.7-masked-text-hello": "00 81 85 37 fa 21 3d 7f 9f 4d 51 58",
    "5.7-fragment-first": "00 01 03 48 65 6c",
    "5.7-fragment-last": "00 80 02 6c 6f",
    "5.7-unmasked-ping": "00 89 05 48 65 6c 6c 6f",
    "5.7-masked-pong": "00 8a 85 37 fa 21 3d 7f 9f 4d 51 58",
    "5.7-binary-256-16bit-length": "00 82 7e 01 00",
    "5.7-binary-64k-64bit-length": "00 82 7f 00 00 00 00 00 01 00 00",
    "masked-64bit-length": "00 82 ff 00 00 00 00 00 01 00 00 01 02 03 04",
    "close-1000": "00 88 02 03 e8",
    "masked-close-empty": "00 88 80 00 00 00 00",
    "continuation-not-fin": "00 00 7e 00 7e",
    "rsv1-claimed": "04 c1 05 f2 48 cd c9 c9 07 00",
    "rsv1-unclaimed": "00 c1 05",
    "reserved-opcode": "00 83 00",
    "fragmented-ping": "00 09 00",
    "control-too-long": "00 89 7e 00 7e",
    "non-minimal-16": "00 82 7e 00 7d",
    "non-minimal-64": "00 82 7f 00 00 00 00 00 00 ff ff",
    "length-top-bit": "00 82 7f 80 00 00 00 00 00 00 00",
}.items():
    write("frame_header", name, H(data))

# ---- mask: key[4], offset u64 LE, start u8, cut u16 LE, then the payload.
def mask_input(key, offset, start, cut, data):
    return bytes(key) + struct.pack("<QBH", offset, start, cut) + data


write("mask", "5.7-hello", mask_input(KEY, 0, 0, 2, b"Hello"))
write("mask", "300-bytes-odd-phase",
      mask_input([1, 2, 3, 4], 3, 5, 131, bytes((i * 31 + 7) & 255 for i in range(300))))
write("mask", "129-bytes-cut-at-block", mask_input([0xDE, 0xAD, 0xBE, 0xEF], 1, 1, 64, bytes(range(129))))

# ---- close_payload: the payload of a close frame.
for name, data in {
    "empty": b"",
    "one-byte": H("03"),
    "1000": H("03 e8"),
    "1000-bye": H("03 e8") + b"bye",
    "1001-going-away": H("03 e9") + b"going away",
    "3000-registered": H("0b b8"),
    "4000-private-utf8": H("0f a0") + "κόσμε".encode(),
    "1005-never-sent": H("03 ed"),
    "999-invalid": H("03 e7"),
    "bad-utf8-reason": H("03 e8 ce ba e1 bd"),
    "123-byte-reason": H("03 e8") + b"a" * 123,
    "124-byte-reason": H("03 e8") + b"a" * 124,
}.items():
    write("close_payload", name, data)

# ---- handshake_*: max_header_bytes u16 LE, max_headers u8, piece size u8
# (0: whole), then the bytes on the wire.
def prefix(max_bytes=8192, max_headers=64, piece=0):
    return u16(max_bytes) + bytes([max_headers, piece])


def http(*lines, body=b""):
    return "".join(line + "\r\n" for line in lines).encode() + b"\r\n" + body


RFC_REQUEST = http(  # RFC 6455 section 1.2
    "GET /chat HTTP/1.1",
    "Host: server.example.com",
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Origin: http://example.com",
    "Sec-WebSocket-Protocol: chat, superchat",
    "Sec-WebSocket-Version: 13",
)
BROWSER_REQUEST = http(
    "GET /socket?room=1&token=s3cr%21t HTTP/1.1",
    "Host: localhost:8080",
    "Connection: Upgrade",
    "Pragma: no-cache",
    "Cache-Control: no-cache",
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Upgrade: websocket",
    "Origin: http://localhost:8080",
    "Sec-WebSocket-Version: 13",
    "Accept-Encoding: gzip, deflate, br",
    "Accept-Language: en-US,en;q=0.9",
    "Cookie: session=abc; theme=dark",
    "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==",
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
    body=frame(0x81, b"Hello", KEY),
)
for name, data in {
    "rfc-1.2": prefix() + RFC_REQUEST,
    "rfc-1.2-in-7-byte-pieces": prefix(piece=7) + RFC_REQUEST,
    "browser-with-first-frame": prefix(piece=1) + BROWSER_REQUEST,
    "plain-get": prefix() + http("GET /index.html HTTP/1.1", "Host: example.com", "Accept: */*"),
    "plain-post-with-body": prefix(piece=16) + http(
        "POST /form HTTP/1.1", "Host: h", "Content-Length: 3", body=b"abc"),
    "post-upgrade-405": prefix() + RFC_REQUEST.replace(b"GET", b"POST", 1),
    "version-8-426": prefix() + RFC_REQUEST.replace(b"Version: 13", b"Version: 8"),
    "http-1.0-400": prefix() + RFC_REQUEST.replace(b"HTTP/1.1", b"HTTP/1.0"),
    "bad-key-400": prefix() + RFC_REQUEST.replace(b"dGhlIHNhbXBsZSBub25jZQ==", b"dGhlIHNhbXBsZQ=="),
    "header-too-large-431": prefix(max_bytes=64, piece=5) + RFC_REQUEST,
    "too-many-headers-431": prefix(max_headers=3) + RFC_REQUEST,
    "tls-client-hello-400": prefix() + H("16 03 01 02 00 01 00 01 fc 03 03") + bytes(32) + b"\r\n\r\n",
    "leading-blank-lines": prefix(piece=3) + b"\r\n\r\n" + RFC_REQUEST,
}.items():
    write("handshake_request", name, data)

RFC_RESPONSE = http(  # RFC 6455 section 1.2, for the key "the sample nonce"
    "HTTP/1.1 101 Switching Protocols",
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
    "Sec-WebSocket-Protocol: chat",
)
for name, data in {
    "rfc-1.2": prefix() + RFC_RESPONSE,
    "rfc-1.2-with-first-frames": prefix(piece=9) + RFC_RESPONSE + frame(0x81, b"Hello") + frame(0x89, b""),
    "deflate-accepted": prefix(piece=2) + RFC_RESPONSE.replace(
        b"\r\n\r\n", b"\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n"),
    "no-protocol": prefix() + RFC_RESPONSE.replace(b"Sec-WebSocket-Protocol: chat\r\n", b""),
    "unoffered-protocol": prefix() + RFC_RESPONSE.replace(b": chat", b": mqtt"),
    "unoffered-extension": prefix() + RFC_RESPONSE.replace(
        b"\r\n\r\n", b"\r\nSec-WebSocket-Extensions: x-webkit-deflate-frame\r\n\r\n"),
    "wrong-accept": prefix() + RFC_RESPONSE.replace(b"s3pPLM", b"AAAAAA"),
    "missing-upgrade": prefix() + RFC_RESPONSE.replace(b"Upgrade: websocket\r\n", b""),
    "404-with-body": prefix(piece=4) + http(
        "HTTP/1.1 404 Not Found", "Content-Type: text/plain", "Content-Length: 9", body=b"not found"),
    "302-redirect": prefix() + http("HTTP/1.1 302 Found", "Location: ws://elsewhere.example/chat"),
    "header-too-large-431": prefix(max_bytes=48) + RFC_RESPONSE,
    "http-1.0": prefix() + RFC_RESPONSE.replace(b"HTTP/1.1", b"HTTP/1.0"),
}.items():
    write("handshake_response", name, data)

# ---- connection_*: max_frame_size u16 LE, max_message_size u16 LE, then
# operations: a tag byte and its fields (see fuzz/src/connection.rs).
def limits(frame_size=4096, message_size=8192):
    return u16(frame_size) + u16(message_size)


def data(b):
    return u16(len(b)) + b


def op_receive(b):
    return b"\x00" + data(b)


def op_frame(first, payload, key=None, split=0xFFFF):
    return bytes([1, first, 1 if key else 0]) + bytes(key or [0, 0, 0, 0]) + u16(split) + data(payload)


OP_REPLY = b"\x02"
OP_EOF = b"\x03"


def op_text(s):
    return b"\x04" + data(s.encode())


def op_binary(b):
    return b"\x05" + data(b)


def op_fragment(payload, text, last):
    return bytes([6, (1 if text else 0) | (2 if last else 0)]) + data(payload)


def op_ping(b):
    return b"\x07" + data(b)


def op_pong(b):
    return b"\x08" + data(b)


def op_close(code, reason=""):
    return b"\x09" + u16(code - 1000) + data(reason.encode())


def op_write(n=0):
    return b"\x0a" + u16(n)


def op_tick(ms):
    return bytes([11, ms])


def op_prepared(payload, repeat, frame_size):
    return bytes([12, repeat]) + u16(frame_size) + data(payload)


for role, key in (("server", KEY), ("client", None)):
    seeds = {
        # RFC 6455 section 5.7, as raw bytes from the peer.
        "5.7-single-frame-text": op_receive(frame(0x81, b"Hello", key)) + op_write(),
        "5.7-fragmented-text": op_frame(0x01, b"Hel", key, split=2)
        + op_frame(0x80, b"lo", key) + op_write(),
        "5.7-ping-answered": op_receive(frame(0x89, b"Hello", key)) + op_write(),
        "5.7-binary-256-bytes": op_frame(0x82, bytes(256), key, split=3) + op_write(),
        "ping-inside-fragmented-message": op_frame(0x01, "caf".encode(), key)
        + op_frame(0x89, b"between", key, split=1)
        + op_frame(0x80, "é".encode(), key, split=7) + op_write(),
        "utf8-split-across-fragments": op_frame(0x01, b"caf\xc3", key)
        + op_frame(0x80, b"\xa9", key) + op_write(),
        "we-close-peer-replies": op_text("last words") + op_close(1000, "bye")
        + op_write() + OP_REPLY + op_write(),
        "peer-closes": op_frame(0x88, H("03 e8") + b"done", key) + op_write(),
        "peer-closes-empty": op_frame(0x88, b"", key) + op_write() + OP_EOF,
        "our-ping-their-pong": op_ping(b"are you there") + op_write(5) + op_write()
        + OP_REPLY + op_pong(b"heartbeat") + op_write(),
        "we-send-fragments": op_fragment(b"caf\xc3", True, False) + op_ping(b"p")
        + op_fragment(b"\xa9", True, True) + op_binary(bytes(300)) + op_write(),
        "eof-without-close-1006": op_frame(0x82, b"\x00\x01", key) + OP_EOF,
        "invalid-utf8-1007": op_frame(0x81, H("ce ba e1 bd bf 80 65 64 69 74 65 64"), key),
        "frame-over-limit-1009": op_frame(0x82, bytes(300), key, split=4),
        "wrong-masking-1002": op_receive(frame(0x81, b"Hello", None if key else KEY)) + op_write(),
        "reserved-opcode-1002": op_frame(0x83, b"", key) + op_write(),
        "continuation-without-start-1002": op_frame(0x80, b"x", key) + op_write(),
        "close-with-bad-code-1002": op_frame(0x88, H("03 ed"), key) + op_write(),
        # Timers: keepalive 10 ms, idle 40 ms, close 20 ms (fuzz/src/connection.rs).
        "keepalive-pings-answered": op_tick(0) + op_tick(10) + op_write() + OP_REPLY
        + op_tick(10) + op_write() + OP_REPLY + op_tick(30),
        "silent-peer-idle-timeout": op_tick(0) + op_tick(10) + op_write() + op_tick(30),
        "unanswered-close-timeout": op_tick(0) + op_close(1000) + op_write() + op_tick(5)
        + op_tick(20),
        "bytes-without-time-then-tick": op_tick(0) + op_receive(frame(0x89, b"x", key))
        + op_tick(39) + op_tick(39) + op_write(),
        # A prepared message of 25,600 bytes in frames of 8,000, a ping from
        # the peer in the middle of its first frame, then a short one.
        "prepared-messages-and-a-ping": op_text("before") + op_prepared(bytes(range(256)), 100, 8000)
        + op_write(1000) + op_frame(0x89, b"ping", key) + op_write() + OP_REPLY
        + op_prepared(b"short", 1, 2) + op_close(1000) + op_prepared(b"late", 1, 10) + op_write(),
    }
    for name, ops in seeds.items():
        size = limits(200, 1000) if name == "frame-over-limit-1009" else limits()
        write(f"connection_{role}", name, size + ops)

# ---- deflate: flags, window bits, max_message_size (LE), then the body.
# RFC 7692 section 7.2.3's examples as masked client frames to a server,
# whole and one byte at a time, with and without the peer's context reset.
HELLO = H("f2 48 cd c9 c9 07 00")
for name, prefix, body in [
    ("7.2.3.1-hello", bytes([0x00, 0xFF]) + u16(1024), frame(0xC1, HELLO, KEY)),
    (
        "7.2.3.2-hello-twice-shared-window",
        bytes([0x08, 0xFF]) + u16(1024),
        frame(0xC1, HELLO, KEY) + frame(0xC1, H("f2 00 11 00 00"), KEY),
    ),
    (
        "7.2.3.3-stored-block",
        bytes([0x02, 0xFF]) + u16(1024),
        frame(0xC1, H("00 05 00 fa ff 48 65 6c 6c 6f 00"), KEY),
    ),
    ("7.2.3.4-bfinal", bytes([0x00, 0x77]) + u16(1024), frame(0xC1, H("f3 48 cd c9 c9 07 00 00"), KEY)),
    (
        "7.2.3.5-two-blocks",
        bytes([0x00, 0x99]) + u16(1024),
        frame(0xC1, H("f2 48 05 00 00 00 ff ff ca c9 c9 07 00"), KEY),
    ),
    (
        "fragmented-hello",
        bytes([0x00, 0xFF]) + u16(1024),
        frame(0x41, HELLO[:3], KEY) + frame(0x80, HELLO[3:], KEY),
    ),
    ("client-gets-hello", bytes([0x01, 0xFF]) + u16(1024), frame(0xC1, HELLO)),
    ("over-the-limit", bytes([0x00, 0xFF]) + u16(4), frame(0xC1, HELLO, KEY)),
    ("rsv1-on-continuation", bytes([0x00, 0xFF]) + u16(1024), frame(0x41, HELLO[:3], KEY) + frame(0xC0, HELLO[3:], KEY)),
    ("corrupt", bytes([0x00, 0xFF]) + u16(1024), frame(0xC1, H("ff ff ff"), KEY)),
    ("json-message", bytes([0x06, 0x9F]) + u16(4096), b'{"id":1,"name":"a","tags":["x","y"]}' * 20),
]:
    write("deflate", name, prefix + body)
