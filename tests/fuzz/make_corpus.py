#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_launch_proto: valid frames of every type plus a few
near misses, built with tests/launcher/lp.py."""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "launcher"))
import lp

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "launch_proto")
os.makedirs(out, exist_ok=True)
frame, create = lp.frame, lp.create


seeds = {
    "hello": frame(1, struct.pack("<II", 1, 0)),
    "hello_full": frame(1, struct.pack("<II", 1, 1)),
    "create": create(),
    "create_env": create(b"A=1\0B=two\0", 2),
    "create_js": create(lang=2, entry=b"main.js"),
    "create_gvisor": create(backend=2),
    "create_control": create(flags=1),
    "create_public": create(network=2),
    "create_public_gvisor": create(network=2, backend=2),
    "create_allowlist": create(b"A=1\0", 1, network=3, allow=[b"pypi.org:443", b"*.pythonhosted.org:443", b"10.0.0.1:80"]),
    "create_allowlist_bad": create(network=3, allow=[b"*.10.0.0.1:80"]),
    "create_allow_without_mode": create(allow=[b"pypi.org:443"]),
    "create_bad_entry": create(entry=b"../x"),
    "create_env_unterminated": create(b"A=1", 1),
    "file_read": lp.file_req(1, lp.F_READ, b"data/in.csv"),
    "file_write_parents": lp.file_req(1, lp.F_WRITE, b"a/b/c.txt", flags=lp.F_PARENTS, mode=0o644),
    "file_list_root": lp.file_req(1, lp.F_LIST, b""),
    "file_traversal": lp.file_req(1, lp.F_READ, b"a/../../etc/passwd"),
    "signal": frame(3, struct.pack("<QBB6x", 1, 1, 1)),
    "signal_kill": frame(3, struct.pack("<QBB6x", 1, 2, 5)),
    "usage": frame(5, struct.pack("<QII", 1, 0, 0)),
    "usage_reset": frame(5, struct.pack("<QII", 1, 1, 0)),
    "usage_bad_flags": frame(5, struct.pack("<QII", 1, 6, 0)),
    "short": b"ARLK",
    "bad_type": frame(77, b"x" * 8),
    "egress": frame(108, struct.pack("<QBBHB3x16sII256s", 1, 2, 1, 443, 0, b"", 0, 0, b"example.com")),
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {out}")
