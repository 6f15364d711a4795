#pragma once
// Segmentation of TUN reads when the TUN has offloads (IFF_VNET_HDR + TUNSETOFFLOAD): the
// kernel hands over TCP (TSO) and UDP (USO) super-packets of up to 64 KiB, and packets whose
// TCP/UDP checksum is only partial. gso_split() does in software what a NIC would do, so that
// every packet that goes into the tunnel is a complete, MTU-sized IP packet.
//
// What the kernel promises is not trusted: header lengths are taken from the packet itself
// (hdr_len is ignored), and every length is checked against the buffer.
#include <cstddef>
#include <cstdint>
#include <span>

namespace qvpn::dataplane {

// Turns one TUN read (a virtio_net_hdr followed by an IP packet, possibly a TCP (TSO4/TSO6)
// or UDP (USO, gso_type UDP_L4) super-packet with a partial checksum) into complete IP
// packets with valid IP, TCP and UDP checksums.
// Segment i is written at out.data() + i * stride, its length in sizes[i]. Returns the number
// of segments, or 0 when the input is malformed or does not fit in `out`/`sizes`
// (the caller counts a drop).
//
// Size rule: stride >= IP header + L4 header + gso_size (the MTU-sized segment; for GSO_NONE,
// the packet's length), sizes.size() >= ceil(payload / gso_size), and out.size() >=
// (segments - 1) * stride + the last segment. `out` must not overlap `tun_read`.
//
// Accepted:
//  - GSO_NONE: copied as is; with NEEDS_CSUM, the checksum at csum_start + csum_offset is
//    completed (an all-zero result is stored as 0xffff, as the kernel does).
//  - TCPV4 / TCPV6 (ECN bit allowed): IPv4 without fragmentation (options are copied to every
//    segment) or IPv6 with TCP directly after the fixed header. Per segment: IPv4 total length,
//    ID (original + i) and header checksum, or IPv6 payload length; TCP sequence number;
//    FIN and PSH on the last segment only, CWR on the first only; full TCP checksum.
//  - UDP_L4: same IP rules; per segment UDP length and full checksum (0 sent as 0xffff).
// Rejected: GSO with gso_size 0, legacy UFO, IPv6 extension headers, an IP version that does
// not match the gso_type, and anything that does not fit.
size_t gso_split(std::span<const uint8_t> tun_read, std::span<uint8_t> out, size_t stride,
                 std::span<uint16_t> sizes);

}  // namespace qvpn::dataplane
