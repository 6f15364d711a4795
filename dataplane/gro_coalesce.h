#pragma once
// Coalescing for TUN writes when the TUN has offloads (IFF_VNET_HDR): consecutive TCP segments
// of one flow, decrypted from one batch of datagrams, are joined into one super-packet with a
// partial checksum, so the kernel's TCP stack handles one large packet instead of many small
// ones (software GRO, as wireguard-go's tun/offload_linux.go).
//
// Only what Linux's own GRO (tcp_gro_receive / inet_gro_receive) would accept is joined:
//  - same IP version, addresses and ports;
//  - IPv4 without options, not fragmented, same TOS, TTL and DF, IDs consecutive (or all
//    equal with DF); IPv6 with no extension headers, same traffic class, flow label, hop limit;
//  - TCP sequence numbers contiguous, same ACK number and byte-identical options; flags exactly
//    ACK or ACK|PSH; every segment's payload the first's (gso_size) except the last, which may
//    be shorter; a shorter segment or PSH ends the super-packet; at most 65535 bytes in all;
//  - IPv4 header checksum and TCP checksum verified first: a packet with a bad one is written
//    alone, unchanged, so the kernel drops it.
// Everything else (other protocols, SYN/FIN/RST, pure ACKs, malformed packets) is written alone
// behind an all-zero virtio_net_hdr.
#include <cstddef>
#include <cstdint>
#include <span>

namespace qvpn::dataplane {

// One TUN write. data points at the virtio_net_hdr, followed by the packet.
struct GroWrite {
  const uint8_t* data;
  size_t len;
};

// Groups decrypted IP packets, about to be written to a TUN with IFF_VNET_HDR, into writes.
// Each write is a virtio_net_hdr followed by one packet unchanged (header all zero: GSO_NONE,
// no flags) or by a TCP super-packet built from consecutive segments of one flow (flags
// NEEDS_CSUM, gso_type TCPV4/TCPV6, hdr_len = IP + TCP headers, gso_size = the first segment's
// payload, csum_start = IP header length, csum_offset = 16, the TCP checksum field holding the
// folded pseudo-header sum; window and PSH from the last segment).
// `out` is scratch where writes are built; sum of packet sizes + kVirtioNetHdrSize *
// packets.size() always suffices. Returns the number of writes placed in `writes`
// (writes.size() >= packets.size() always suffices); returns 0 if either is smaller than that.
// Packets' relative order within each flow is preserved; packets not coalesced keep their
// order relative to each other as far as possible (writes are ordered by their first packet).
// Packets are considered in runs of kGroMaxRun: a super-packet never spans two runs.
size_t gro_coalesce(std::span<const std::span<const uint8_t>> packets, std::span<uint8_t> out,
                    std::span<GroWrite> writes);

// Packets considered together for coalescing; bounds the stack state of gro_coalesce.
inline constexpr size_t kGroMaxRun = 256;

}  // namespace qvpn::dataplane
