#pragma once
// Reference IPv4/IPv6 TCP/UDP packets for the offload tests and fuzzers: a packet builder and a
// naive Internet checksum (one 16-bit word at a time), independent of dataplane/inet_checksum.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "dataplane/gro_coalesce.h"
#include "dataplane/virtio_net_hdr.h"

namespace qvpn::test {

// One's-complement sum of n bytes at p added to s (at most 0xffff), one word at a time, folded.
inline uint32_t ref_sum(const uint8_t* p, size_t n, uint32_t s = 0) {
  for (size_t i = 0; i < n; i += 2) {
    s += uint32_t{p[i]} << 8 | (i + 1 < n ? p[i + 1] : 0);
    s = (s & 0xffff) + (s >> 16);
  }
  return s;
}
inline uint16_t ref_fold(const std::vector<uint8_t>& b, uint32_t s = 0) {
  return static_cast<uint16_t>(ref_sum(b.data(), b.size(), s));
}

// The folded pseudo-header sum of the IP packet at ip, for an L4 length of l4_len; never 0.
inline uint32_t ref_pseudo_sum(const uint8_t* ip, bool v6, uint8_t proto, size_t l4_len) {
  uint32_t s = v6 ? ref_sum(ip + 8, 32) : ref_sum(ip + 12, 8);
  s += proto + static_cast<uint32_t>(l4_len);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return s;
}

// Big-endian fields, at a pointer or at an offset.
inline uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline uint16_t get16(std::span<const uint8_t> b, size_t at) {
  return static_cast<uint16_t>(b[at] << 8 | b[at + 1]);
}
inline uint32_t get32(std::span<const uint8_t> b, size_t at) {
  return uint32_t{get16(b, at)} << 16 | get16(b, at + 2);
}
inline void put16(std::span<uint8_t> b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}
inline void put32(std::span<uint8_t> b, size_t at, uint32_t v) {
  put16(b, at, static_cast<uint16_t>(v >> 16));
  put16(b, at + 2, static_cast<uint16_t>(v));
}

inline constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10,
                         kUrg = 0x20, kEce = 0x40, kCwr = 0x80;

// The payload byte at TCP sequence number s (for UDP, Spec::seq is just where it starts): slices of
// a super-packet's payload equal the payloads of the segments with the same sequence numbers.
inline uint8_t payload_byte(uint32_t s, uint8_t salt) { return static_cast<uint8_t>(s * 7 + salt); }

struct Spec {
  bool v6 = false;
  bool udp = false;
  uint8_t src = 1, dst = 2;  // last address byte
  uint16_t sport = 40000, dport = 443;
  uint32_t seq = 1000, ack = 5000;
  uint8_t flags = kAck;
  uint16_t window = 512;
  uint16_t id = 100;
  bool df = true;
  uint8_t tos = 0, ttl = 64;
  uint32_t flow_label = 0x12345;
  std::vector<uint8_t> ip_options;   // IPv4 only, multiple of 4
  std::vector<uint8_t> tcp_options;  // multiple of 4
  size_t payload = 100;
  uint8_t salt = 3;
  bool bad_l4_csum = false;
  bool bad_ip_csum = false;
};

// The IP header length of a packet: 40 for IPv6 (no extension headers), else from the IHL.
inline size_t ip_header_len(std::span<const uint8_t> pkt) {
  return pkt[0] >> 4 == 6 ? 40 : size_t{pkt[0] & 0x0fu} * 4;
}

// The L4 checksum of packet b (l4 at offset off), with its field counted as zero.
inline uint16_t ref_l4_checksum(const std::vector<uint8_t>& b, size_t off, bool v6, uint8_t proto) {
  std::vector<uint8_t> l4(b.begin() + off, b.end());
  l4[proto == 6 ? 16 : 6] = 0;
  l4[proto == 6 ? 17 : 7] = 0;
  return static_cast<uint16_t>(
      ~ref_sum(l4.data(), l4.size(), ref_pseudo_sum(b.data(), v6, proto, l4.size())));
}

inline std::vector<uint8_t> make_packet(const Spec& s) {
  const size_t iph = s.v6 ? 40 : 20 + s.ip_options.size();
  const size_t l4h = s.udp ? 8 : 20 + s.tcp_options.size();
  std::vector<uint8_t> b(iph + l4h + s.payload);
  const uint8_t proto = s.udp ? 17 : 6;
  if (s.v6) {
    put32(b, 0, 6u << 28 | uint32_t{s.tos} << 20 | s.flow_label);
    put16(b, 4, static_cast<uint16_t>(b.size() - 40));
    b[6] = proto;
    b[7] = s.ttl;
    for (size_t i = 8; i < 40; ++i) b[i] = static_cast<uint8_t>(0x20 + i);
    b[23] = s.src;
    b[39] = s.dst;
  } else {
    b[0] = static_cast<uint8_t>(0x40 | iph / 4);
    b[1] = s.tos;
    put16(b, 2, static_cast<uint16_t>(b.size()));
    put16(b, 4, s.id);
    put16(b, 6, s.df ? 0x4000 : 0);
    b[8] = s.ttl;
    b[9] = proto;
    b[12] = 10, b[13] = 0, b[14] = 0, b[15] = s.src;
    b[16] = 10, b[17] = 0, b[18] = 0, b[19] = s.dst;
    std::copy(s.ip_options.begin(), s.ip_options.end(), b.begin() + 20);
    put16(b, 10, static_cast<uint16_t>(~ref_sum(b.data(), iph) ^ (s.bad_ip_csum ? 1 : 0)));
  }
  put16(b, iph, s.sport);
  put16(b, iph + 2, s.dport);
  if (s.udp) {
    put16(b, iph + 4, static_cast<uint16_t>(l4h + s.payload));
  } else {
    put32(b, iph + 4, s.seq);
    put32(b, iph + 8, s.ack);
    b[iph + 12] = static_cast<uint8_t>(l4h / 4 << 4);
    b[iph + 13] = s.flags;
    put16(b, iph + 14, s.window);
    std::copy(s.tcp_options.begin(), s.tcp_options.end(), b.begin() + iph + 20);
  }
  for (size_t i = 0; i < s.payload; ++i) {
    b[iph + l4h + i] = payload_byte(static_cast<uint32_t>(s.seq + i), s.salt);
  }
  uint16_t c = ref_l4_checksum(b, iph, s.v6, proto);
  if (s.udp && c == 0) c = 0xffff;
  if (s.bad_l4_csum) c ^= 0x0100;
  put16(b, iph + (s.udp ? 6 : 16), c);
  return b;
}

// A packet's L4 checksum verifies (the field counted), by the reference sum.
inline bool ref_l4_valid(std::span<const uint8_t> pkt) {
  const std::vector<uint8_t> b(pkt.begin(), pkt.end());
  const bool v6 = b[0] >> 4 == 6;
  const size_t iph = ip_header_len(b);
  const uint8_t proto = v6 ? b[6] : b[9];
  const size_t at = iph + (proto == 6 ? 16 : 6);
  const uint16_t stored = get16(b, at);
  const uint16_t want = ref_l4_checksum(b, iph, v6, proto);
  return stored == want || (stored == 0xffff && want == 0) || (stored == 0 && want == 0xffff);
}

inline bool ref_ip_valid(std::span<const uint8_t> pkt) {
  if (pkt[0] >> 4 == 6) return get16(pkt, 4) + size_t{40} == pkt.size();
  return ref_sum(pkt.data(), size_t{pkt[0] & 0x0fu} * 4) == 0xffff && get16(pkt, 2) == pkt.size();
}

// gro_coalesce over packets, with scratch of the size its contract asks for. The writes
// point into `out`.
struct Coalesced {
  std::vector<uint8_t> out;
  std::vector<dataplane::GroWrite> writes;
};
inline Coalesced coalesce_all(const std::vector<std::vector<uint8_t>>& pkts) {
  std::vector<std::span<const uint8_t>> spans(pkts.begin(), pkts.end());
  size_t total = 0;
  for (const auto& p : pkts) total += p.size() + dataplane::kVirtioNetHdrSize;
  Coalesced c{std::vector<uint8_t>(total), std::vector<dataplane::GroWrite>(pkts.size())};
  c.writes.resize(dataplane::gro_coalesce(spans, c.out, c.writes));
  return c;
}

}  // namespace qvpn::test
