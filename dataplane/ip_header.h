#pragma once
// Internal to the offload paths (gso_split.cc, gro_coalesce.cc): big-endian field access and
// the parse of an IPv4 or IPv6 header that both start from.
#include <cstddef>
#include <cstdint>
#include <span>

namespace qvpn::dataplane::ip_internal {

constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr size_t kIpv4MinHeader = 20;
constexpr size_t kIpv6Header = 40;
constexpr size_t kTcpMinHeader = 20;

inline uint16_t load16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t load32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
inline void store16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

struct IpInfo {
  bool v6;
  bool fragment;  // IPv4 with MF or a fragment offset; never set for IPv6
  size_t header_len;
  size_t packet_len;  // from the IP header; trailing bytes beyond it are ignored
  uint8_t protocol;   // IPv6: the next header, which may be an extension header
};

// The IP header at the start of pkt, if it is IPv4 or IPv6, complete, and its lengths fit pkt.
inline bool parse_ip(std::span<const uint8_t> pkt, IpInfo& ip) {
  if (pkt.empty()) return false;
  const uint8_t* p = pkt.data();
  const uint8_t version = p[0] >> 4;
  if (version == 4) {
    if (pkt.size() < kIpv4MinHeader) return false;
    ip.v6 = false;
    ip.header_len = size_t{p[0] & 0x0fu} * 4;
    ip.packet_len = load16(p + 2);
    ip.protocol = p[9];
    ip.fragment = (load16(p + 6) & 0x3fff) != 0;
    return ip.header_len >= kIpv4MinHeader && ip.packet_len >= ip.header_len &&
           ip.packet_len <= pkt.size();
  }
  if (version == 6) {
    if (pkt.size() < kIpv6Header) return false;
    ip.v6 = true;
    ip.fragment = false;
    ip.header_len = kIpv6Header;
    ip.packet_len = kIpv6Header + load16(p + 4);
    ip.protocol = p[6];
    return ip.packet_len <= pkt.size();
  }
  return false;
}

}  // namespace qvpn::dataplane::ip_internal
