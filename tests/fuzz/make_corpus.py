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


# fuzz_flowlog: NFLOG records as the kernel frames them (src/sandbox/flowlog.c), each one
# an nlmsghdr, an nfgenmsg, then attributes: the packet header, the prefix, the payload.
def nla(kind: int, data: bytes) -> bytes:
    raw = struct.pack("<HH", 4 + len(data), kind) + data
    return raw + b"\0" * (-len(raw) % 4)


def nflog(prefix: bytes, packet: bytes) -> bytes:
    body = struct.pack("<BBH", 2, 0, socket_htons(1)) + nla(1, struct.pack(">HBB", 0x0800, 3, 0))
    body += nla(10, prefix + b"\0") + nla(9, packet)
    return struct.pack("<IHHII", 16 + len(body), (4 << 8) | 0, 0, 0, 0) + body


def socket_htons(v: int) -> int:
    return int.from_bytes(v.to_bytes(2, "big"), "little")


def ipv4(proto: int, dst: bytes, dport: int, options: bytes = b"") -> bytes:
    ihl = 5 + len(options) // 4
    return (struct.pack(">BBHHHBBH4s4s", 0x40 | ihl, 0, 24 + len(options), 1, 0, 64, proto, 0, bytes([10, 0, 2, 100]), dst)
            + options + struct.pack(">HH", 49153, dport))


flow_out = os.path.join(os.path.dirname(out), "flowlog")
os.makedirs(flow_out, exist_ok=True)
flow_seeds = {
    "allowed_tcp": nflog(b"airlock-allowed", ipv4(6, bytes([192, 0, 2, 7]), 443)),
    "refused_udp": nflog(b"airlock-refused", ipv4(17, bytes([169, 254, 169, 254]), 53)),
    "allowed_icmp": nflog(b"airlock-allowed", ipv4(1, bytes([198, 51, 100, 1]), 0)),
    "options": nflog(b"airlock-allowed", ipv4(6, bytes([192, 0, 2, 8]), 8080, b"\x01" * 8)),
    "two": nflog(b"airlock-allowed", ipv4(17, bytes([192, 0, 2, 9]), 9)) + nflog(b"airlock-refused",
                                                                                   ipv4(6, bytes([10, 0, 2, 2]), 80)),
    "other_prefix": nflog(b"something-else", ipv4(6, bytes([192, 0, 2, 7]), 443)),
    "ack": struct.pack("<IHHII", 36, 2, 0, 1, 0) + b"\0" * 20,
}
for name, data in flow_seeds.items():
    with open(os.path.join(flow_out, name), "wb") as f:
        f.write(data)
print(f"wrote {len(flow_seeds)} seeds to {flow_out}")
