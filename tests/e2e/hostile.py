#!/usr/bin/env python3
"""Hostile UDP traffic against a WireGuard endpoint, for tests/e2e/test_hostile.sh.

  hostile.py PHASE ADDR PORT [options]

Phases (each bounded in packet count and in time; only ever aimed at the lab's own namespaces):
  junk        random datagrams of random sizes (0..1500 bytes, first byte anything), then
              WireGuard-looking messages of types 1-4 with wrong sizes (truncated and oversized,
              up to 65000 bytes), type 1-3 with nonzero reserved bytes, and well-sized forged
              handshake responses, cookie replies and data messages with random receiver indices
  init-random COUNT handshake initiations that are random bytes with type 1 and size 148
  init-mac1   COUNT handshake initiations with a valid mac1 for --pub (random ephemeral, static
              and timestamp): they pass the cheap check and cost the responder a DH each, the
              case that drives a responder "under load" and makes it answer with cookie replies

Options: --count N (default 10000), --seconds S (stop after S seconds, default 30),
         --pub BASE64 (the target's public key, for init-mac1), --seed N.
Prints one line: "PHASE sent N packets in T s (R pkt/s), received M replies (types ...)".
"""
import argparse
import base64
import collections
import hashlib
import os
import random
import socket
import sys
import time

INIT_SIZE, RESP_SIZE, COOKIE_SIZE, DATA_MIN = 148, 92, 64, 32


def mac1_key(pub):
    return hashlib.blake2s(b"mac1----" + pub, digest_size=32).digest()


class Sender:
    def __init__(self, addr, port, seconds):
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
        self.dst = (addr, port)
        self.sent = 0
        self.errors = 0
        self.replies = collections.Counter()
        self.start = time.monotonic()
        self.deadline = self.start + seconds

    def expired(self):
        return time.monotonic() > self.deadline

    def send(self, pkt):
        while True:
            try:
                self.sock.sendto(pkt, self.dst)
                self.sent += 1
                break
            except BlockingIOError:
                self.drain()
                time.sleep(0.0005)
                if self.expired():
                    break
            except OSError:  # e.g. EMSGSIZE, ECONNREFUSED from an earlier ICMP error
                self.errors += 1
                break
        if self.sent % 256 == 0:
            self.drain()

    def drain(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except (BlockingIOError, OSError):
                return
            self.replies[data[0] if data else -1] += 1

    def report(self, phase):
        time.sleep(0.2)
        self.drain()
        t = time.monotonic() - self.start
        kinds = ", ".join(f"type {k}: {v}" for k, v in sorted(self.replies.items())) or "none"
        print(f"{phase} sent {self.sent} packets in {t:.2f} s ({self.sent / max(t, 1e-9):.0f} pkt/s), "
              f"send errors {self.errors}, received {sum(self.replies.values())} replies ({kinds})",
              flush=True)


def wg_like(rng, mtype, size, reserved=b"\0\0\0"):
    body = rng.randbytes(max(size - 4, 0))
    return (bytes([mtype]) + reserved + body)[:size]


def junk(s, rng, count):
    for _ in range(count):
        if s.expired():
            return
        s.send(rng.randbytes(rng.randint(0, 1500)))
    for _ in range(count // 10):
        s.send(rng.randbytes(rng.randint(1, 4)))
    wrong = {
        1: [1, 4, 5, 8, 32, 147, 149, 200, 1500, 65000],
        2: [1, 4, 5, 8, 32, 91, 93, 148, 1500, 65000],
        3: [1, 4, 5, 8, 32, 63, 65, 148, 1500, 65000],
        4: [1, 4, 5, 8, 16, 31],
    }
    for rounds in range(max(count // 100, 1)):
        if s.expired():
            return
        for mtype, sizes in wrong.items():
            for size in sizes:
                s.send(wg_like(rng, mtype, size))
        # right sizes, nonzero reserved bytes
        for mtype, size in ((1, INIT_SIZE), (2, RESP_SIZE), (3, COOKIE_SIZE), (4, DATA_MIN)):
            s.send(wg_like(rng, mtype, size, reserved=rng.randbytes(3)))
        # right sizes, random receiver indices / counters: responses, cookies, data (oversized too)
        s.send(wg_like(rng, 2, RESP_SIZE))
        s.send(wg_like(rng, 3, COOKIE_SIZE))
        s.send(wg_like(rng, 4, DATA_MIN + 16 * rng.randint(0, 90)))
        if rounds % 10 == 0:
            s.send(wg_like(rng, 4, 65000))
        # unknown message types
        s.send(wg_like(rng, rng.choice([0, 5, 6, 0x7f, 0xff]), rng.randint(4, 200)))


def init_random(s, rng, count):
    for _ in range(count):
        if s.expired():
            return
        s.send(b"\x01\0\0\0" + rng.randbytes(INIT_SIZE - 4))


def init_mac1(s, rng, count, pub):
    key = mac1_key(pub)
    for _ in range(count):
        if s.expired():
            return
        msg = b"\x01\0\0\0" + rng.randbytes(4 + 32 + 48 + 28)       # sender, ephemeral, static, ts
        msg += hashlib.blake2s(msg, digest_size=16, key=key).digest()  # mac1 over bytes 0..115
        msg += b"\0" * 16                                              # mac2: no cookie
        s.send(msg)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("phase", choices=["junk", "init-random", "init-mac1"])
    ap.add_argument("addr")
    ap.add_argument("port", type=int)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--pub")
    ap.add_argument("--seed", type=int, default=int.from_bytes(os.urandom(4), "little"))
    a = ap.parse_args()
    rng = random.Random(a.seed)
    s = Sender(a.addr, a.port, min(a.seconds, 120.0))
    if a.phase == "junk":
        junk(s, rng, a.count)
    elif a.phase == "init-random":
        init_random(s, rng, a.count)
    else:
        if not a.pub:
            sys.exit("init-mac1 needs --pub")
        pub = base64.b64decode(a.pub)
        if len(pub) != 32:
            sys.exit("--pub must be a 32-byte key in base64")
        init_mac1(s, rng, a.count, pub)
    s.report(a.phase)


if __name__ == "__main__":
    main()
