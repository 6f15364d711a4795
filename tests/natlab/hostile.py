#!/usr/bin/env python3
"""Hostile input for NAT lab case 8 (tests/natlab/test_hostile_relay.sh).

  hostile.py relay HOST PORT            garbage, a bad HTTP head, a key proof that fails, an
                                        oversized frame (each on its own connection)
  hostile.py stun HOST PORT             STUN requests with malformed attributes
  hostile.py disco HOST PORT PEERKEY    disco datagrams with bad boxes: from PEERKEY (a key
                                        the node knows) and from a random key; and datagrams
                                        of no protocol at all
Every socket operation has a timeout; the script never waits for more than a few seconds.
"""
import base64
import os
import socket
import struct
import sys

TIMEOUT = 3.0


def tcp(host, port):
    s = socket.create_connection((host, port), timeout=TIMEOUT)
    s.settimeout(TIMEOUT)
    return s


def drain(s):
    """Reads until the server closes (or the timeout); returns what it sent."""
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    s.close()
    return data


def upgraded(host, port):
    s = tcp(host, port)
    s.sendall(b"GET /relay HTTP/1.1\r\nHost: x\r\nUpgrade: qvpn-relay\r\nConnection: Upgrade\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    frame_type, length = struct.unpack(">BI", s.recv(5, socket.MSG_WAITALL))
    s.recv(length, socket.MSG_WAITALL)  # ServerHello
    assert frame_type == 1
    return s


def relay(host, port):
    s = tcp(host, port)
    s.sendall(os.urandom(4096) + b"\r\n\r\n")
    print("garbage:", drain(s)[:12])
    s = tcp(host, port)
    s.sendall(b"BREW /coffee HTCPCP/1.0\r\n\r\n")
    print("bad head:", drain(s)[:12])
    s = upgraded(host, port)
    # ClientHello: version, a claimed key, a nonce, and a box that is not the challenge's.
    payload = bytes([1]) + os.urandom(32) + os.urandom(24) + os.urandom(48)
    s.sendall(struct.pack(">BI", 2, len(payload)) + payload)
    print("bad key proof:", drain(s)[5:40])
    s = upgraded(host, port)
    s.sendall(struct.pack(">BI", 2, 1 << 30))
    print("oversized frame:", drain(s)[5:40])


def stun(host, port):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = os.urandom(12)
    cases = [
        struct.pack(">HHI", 1, 8, 0x2112A442) + tx + struct.pack(">HH", 0x8022, 200) + b"abcd",
        struct.pack(">HHI", 1, 8, 0x2112A442) + tx + struct.pack(">HHI", 0x8028, 4, 0xDEADBEEF),
        struct.pack(">HHI", 1, 4, 0x2112A442) + tx + struct.pack(">HH", 0x8022, 9),
        os.urandom(100),
    ]
    for c in cases:
        u.sendto(c, (host, port))
    print("stun: sent", len(cases))


def disco(host, port, peer_key):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    known = base64.b64decode(peer_key)
    for key in (known, os.urandom(32)):
        for _ in range(5):
            u.sendto(b"qvdisc" + key + os.urandom(24) + os.urandom(40), (host, port))
    # Neither WireGuard (types 1-4), disco nor STUN.
    for _ in range(3):
        u.sendto(b"\x55" + os.urandom(99), (host, port))
    print("disco: sent 10, and 3 of no protocol")


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "relay":
        relay(sys.argv[2], int(sys.argv[3]))
    elif mode == "stun":
        stun(sys.argv[2], int(sys.argv[3]))
    elif mode == "disco":
        disco(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        sys.exit("usage: hostile.py relay|stun|disco ...")
