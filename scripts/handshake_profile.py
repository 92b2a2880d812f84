#!/usr/bin/env python3
"""Instructions per accepted connection of a scale-bench server, counted by
callgrind (repeatable on a busy machine, unlike wall time).

Runs one `--serve-scale NAME` server process of the scale bench under
`valgrind --tool=callgrind`, opens N connections to it with one `--generate`
process (each: handshake, one 16-byte echo; the keepalive or heartbeat armed
for a moment an hour away, as in the scale bench), then stops the server so
callgrind writes its counts. Each server runs twice, with N and 2N
connections: the difference over N leaves out start-up and exit.

    cargo bench --manifest-path benches/compare/Cargo.toml --bench scale --no-run
    scripts/handshake_profile.py target/release/deps/scale-HASH [N] [SERVER...]

Prints one line per server: instructions per connection. The profiles stay
in callgrind.out.NAME.N (read them with callgrind_annotate).
"""

import os
import re
import socket
import subprocess
import sys
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(binary, server, count):
    port = free_port()
    out = f"callgrind.out.{server}.{count}"
    env = dict(os.environ)
    env.update(
        SCALE_PORT=str(port),
        SCALE_DEADLINE_MS="600000",
        SCALE_PING_AT_MS=str(int(time.time() * 1000) + 3_600_000),
    )
    serve = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary,
         "--serve-scale", server],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        stderr=subprocess.DEVNULL)
    assert serve.stdout.readline().strip() == "ready", f"{server} did not start"
    generate = subprocess.Popen(
        [binary, "--generate", f"127.0.0.1:{port}", "127.0.0.2", str(count), "0",
         "128", "-", "1000", "600000", "600000"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert generate.stdout.readline().strip() == "ready"
    generate.stdin.write("go\n")
    generate.stdin.flush()
    line = generate.stdout.readline().split()
    assert line == ["open", str(count), "0"], f"{server}: generator said {line}"
    serve.stdin.close()  # the server exits; callgrind writes its counts
    serve.wait(timeout=600)
    generate.stdin.close()
    generate.wait(timeout=60)
    with open(out) as f:
        total = re.search(r"^summary:\s+(\d+)", f.read(), re.M)
    return int(total.group(1))


def main():
    binary = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    servers = sys.argv[3:] or ["ours-tokio", "tokio-websockets"]
    results = {}
    for server in servers:
        small = run(binary, server, count)
        large = run(binary, server, 2 * count)
        results[server] = (large - small) / count
        print(f"{server}: {results[server]:,.0f} instructions per connection "
              f"({small:,} at {count}, {large:,} at {2 * count})", flush=True)
    base = results.get("tokio-websockets")
    if base:
        for server, per in results.items():
            print(f"{server}: {per / base:.2f} of tokio-websockets")


if __name__ == "__main__":
    main()
