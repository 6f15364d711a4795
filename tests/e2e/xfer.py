#!/usr/bin/env python3
"""TCP transfer helper for the e2e labs (tests/e2e/lib.sh).

Modes:
  server        ADDR PORT                 accept one connection, read to EOF, print "SHA256 BYTES"
  client        ADDR PORT BYTES [SEED]    send BYTES deterministic pseudo-random bytes, print "SHA256 BYTES"
  stream-server ADDR PORT [SEED]          accept one connection, verify every byte against the
                                          deterministic stream, print "ok BYTES" (exit 0) or the
                                          offset of the first mismatch (exit 1)
  stream-client ADDR PORT SECONDS [CHUNK] [INTERVAL] [SEED]
                                          send CHUNK bytes every INTERVAL seconds for SECONDS,
                                          print "sent BYTES chunks N max_send_s X"

Both ends generate the same byte stream from SEED (random.Random(SEED), 1 MiB blocks), so the
receiver can compare digests or content without the data ever touching the disk. Every socket
operation has a timeout, so a stalled tunnel makes the helper fail instead of hanging the test.
"""
import hashlib
import random
import socket
import sys
import time

BLOCK = 1 << 20
IO_TIMEOUT = 60.0       # one recv/send may wait this long before we call the tunnel stalled
ACCEPT_TIMEOUT = 120.0  # the server gives up if no client comes
CONNECT_RETRY = 15.0    # the client retries connecting this long (server may still be starting)


class Stream:
    """The deterministic byte stream: concatenated random.Random(seed).randbytes(BLOCK) blocks."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.buf = b""
        self.pos = 0

    def take(self, n):
        while len(self.buf) - self.pos < n:
            self.buf = self.buf[self.pos:] + self.rng.randbytes(BLOCK)
            self.pos = 0
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def listen(addr, port):
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(1)
    s.settimeout(ACCEPT_TIMEOUT)
    conn, peer = s.accept()
    s.close()
    conn.settimeout(IO_TIMEOUT)
    print(f"accepted {peer[0]}:{peer[1]}", file=sys.stderr, flush=True)
    return conn


def connect(addr, port):
    deadline = time.monotonic() + CONNECT_RETRY
    while True:
        s = socket.socket(family(addr), socket.SOCK_STREAM)
        s.settimeout(5.0)
        try:
            s.connect((addr, port))
            s.settimeout(IO_TIMEOUT)
            return s
        except OSError as e:
            s.close()
            if time.monotonic() > deadline:
                sys.exit(f"xfer: cannot connect to {addr}:{port}: {e}")
            time.sleep(0.2)


def drain_until_eof(s):
    """After our shutdown(SHUT_WR): wait for the peer to close, proving it read everything."""
    while s.recv(65536):
        pass


def server(addr, port):
    conn = listen(addr, port)
    h = hashlib.sha256()
    n = 0
    buf = bytearray(BLOCK)
    view = memoryview(buf)
    while True:
        k = conn.recv_into(buf)
        if k == 0:
            break
        h.update(view[:k])
        n += k
    conn.close()
    print(h.hexdigest(), n, flush=True)


def client(addr, port, total, seed):
    s = connect(addr, port)
    st = Stream(seed)
    h = hashlib.sha256()
    left = total
    while left > 0:
        chunk = st.take(min(left, BLOCK))
        s.sendall(chunk)
        h.update(chunk)
        left -= len(chunk)
    s.shutdown(socket.SHUT_WR)
    drain_until_eof(s)
    s.close()
    print(h.hexdigest(), total, flush=True)


def stream_server(addr, port, seed):
    conn = listen(addr, port)
    st = Stream(seed)
    n = 0
    while True:
        data = conn.recv(BLOCK)
        if not data:
            break
        want = st.take(len(data))
        if data != want:
            off = next(i for i in range(len(data)) if data[i] != want[i])
            print(f"MISMATCH at byte offset {n + off}", flush=True)
            sys.exit(1)
        n += len(data)
    conn.close()
    print("ok", n, flush=True)


def stream_client(addr, port, seconds, chunk, interval, seed):
    s = connect(addr, port)
    st = Stream(seed)
    sent = chunks = 0
    max_send = 0.0
    start = time.monotonic()
    nxt = start
    while time.monotonic() - start < seconds:
        data = st.take(chunk)
        t0 = time.monotonic()
        s.sendall(data)
        max_send = max(max_send, time.monotonic() - t0)
        sent += len(data)
        chunks += 1
        nxt += interval
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    s.shutdown(socket.SHUT_WR)
    drain_until_eof(s)
    s.close()
    print(f"sent {sent} chunks {chunks} max_send_s {max_send:.3f}", flush=True)


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    mode, addr, port = argv[1], argv[2], int(argv[3])
    rest = argv[4:]
    try:
        if mode == "server":
            server(addr, port)
        elif mode == "client":
            client(addr, port, int(rest[0]), int(rest[1]) if len(rest) > 1 else 1)
        elif mode == "stream-server":
            stream_server(addr, port, int(rest[0]) if rest else 1)
        elif mode == "stream-client":
            stream_client(addr, port, float(rest[0]),
                          int(rest[1]) if len(rest) > 1 else 65536,
                          float(rest[2]) if len(rest) > 2 else 0.1,
                          int(rest[3]) if len(rest) > 3 else 1)
        else:
            sys.exit(f"xfer: unknown mode {mode}\n{__doc__}")
    except (OSError, socket.timeout) as e:
        sys.exit(f"xfer {mode}: {e}")


if __name__ == "__main__":
    main(sys.argv)
