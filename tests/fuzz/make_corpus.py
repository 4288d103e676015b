#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_launch_proto: valid frames of every type plus a few
near misses. Layouts mirror src/proto/launch_proto.h (native little-endian, x86_64)."""
import os
import struct
import sys

MAGIC, VERSION = 0x4B4C5241, 1
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "launch_proto")
os.makedirs(out, exist_ok=True)


def frame(ftype, body, req=1):
    return struct.pack("<IHHIIQ", MAGIC, VERSION, ftype, 24 + len(body), 0, req) + body


def create(env=b"", count=0, lang=1, backend=1, entry=b"main.py"):
    limits = struct.pack("<QQQIIIIII", 256 << 20, 64 << 20, 64 << 20, 1000, 64, 5000, 1000, 256, 0)
    body = struct.pack("<BBBBI", backend, lang, 1, 0, 0) + limits
    body += b"default".ljust(32, b"\0") + entry.ljust(64, b"\0") + struct.pack("<II", count, len(env))
    assert len(body) == 160, len(body)
    return frame(2, body + env)


seeds = {
    "hello": frame(1, struct.pack("<II", 1, 0)),
    "hello_full": frame(1, struct.pack("<II", 1, 1)),
    "create": create(),
    "create_env": create(b"A=1\0B=two\0", 2),
    "create_js": create(lang=2, entry=b"main.js"),
    "create_gvisor": create(backend=2),
    "create_bad_entry": create(entry=b"../x"),
    "create_env_unterminated": create(b"A=1", 1),
    "signal": frame(3, struct.pack("<QBB6x", 1, 1, 1)),
    "signal_kill": frame(3, struct.pack("<QBB6x", 1, 2, 5)),
    "short": b"ARLK",
    "bad_type": frame(77, b"x" * 8),
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {out}")
