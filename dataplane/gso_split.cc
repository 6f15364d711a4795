#include "dataplane/gso_split.h"

#include <cstring>

#include "dataplane/inet_checksum.h"
#include "dataplane/ip_header.h"
#include "dataplane/virtio_net_hdr.h"

namespace qvpn::dataplane {

// <linux/virtio_net.h> cannot be included from C++ (a struct member is named `class`), so the
// constants in virtio_net_hdr.h are checked against the uapi values by hand; sizeof only here.
static_assert(sizeof(VirtioNetHdr) == kVirtioNetHdrSize);

namespace {

using namespace ip_internal;

constexpr size_t kUdpHeader = 8;
constexpr size_t kMaxSegment = 0xffff;  // sizes[] holds uint16_t

constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpPsh = 0x08;
constexpr uint8_t kTcpCwr = 0x80;

inline void store32(uint8_t* p, uint32_t v) {
  store16(p, static_cast<uint16_t>(v >> 16));
  store16(p + 2, static_cast<uint16_t>(v));
}

// Where one segment (or the single packet) of `len` bytes goes, if it fits.
inline bool fits(size_t index, size_t len, std::span<uint8_t> out, size_t stride,
                 std::span<uint16_t> sizes) {
  if (index >= sizes.size() || len > stride || len > kMaxSegment) return false;
  size_t start;
  if (__builtin_mul_overflow(index, stride, &start)) return false;
  return start <= out.size() && len <= out.size() - start;
}

size_t copy_whole(std::span<const uint8_t> pkt, std::span<uint8_t> out, size_t stride,
                  std::span<uint16_t> sizes) {
  if (pkt.empty() || !fits(0, pkt.size(), out, stride, sizes)) return 0;
  std::memcpy(out.data(), pkt.data(), pkt.size());
  sizes[0] = static_cast<uint16_t>(pkt.size());
  return 1;
}

// GSO_NONE with NEEDS_CSUM: the field already holds the pseudo-header sum, so the sum from
// csum_start to the end is the whole checksum.
size_t complete_checksum(std::span<const uint8_t> pkt, const VirtioNetHdr& h,
                         std::span<uint8_t> out, size_t stride, std::span<uint16_t> sizes) {
  const size_t start = h.csum_start;
  if (start >= pkt.size() || h.csum_offset + size_t{2} > pkt.size() - start) return 0;
  if (!fits(0, pkt.size(), out, stride, sizes)) return 0;
  uint8_t* dst = out.data();
  std::memcpy(dst, pkt.data(), start);
  const uint64_t sum = checksum_copy(dst + start, pkt.subspan(start));
  const uint16_t csum = checksum_finish(sum);
  store16(dst + start + h.csum_offset, csum == 0 ? 0xffff : csum);
  sizes[0] = static_cast<uint16_t>(pkt.size());
  return 1;
}

// The IP header of a super-packet: IPv4 not fragmented, or IPv6 with no extension headers
// (which would carry the L4 protocol number, so they fail the caller's protocol check).
bool parse_super_ip(std::span<const uint8_t> pkt, IpInfo& ip) {
  return parse_ip(pkt, ip) && !ip.fragment;
}

// TSO and USO. The segments' headers are the super-packet's with the per-segment fields
// rewritten; each segment is copied and checksummed in one pass.
size_t segment(std::span<const uint8_t> pkt, const VirtioNetHdr& h, std::span<uint8_t> out,
               size_t stride, std::span<uint16_t> sizes) {
  const uint8_t type = h.gso_type & ~kVirtioNetHdrGsoEcn;
  const bool ecn = (h.gso_type & kVirtioNetHdrGsoEcn) != 0;
  IpInfo ip;
  if (h.gso_size == 0 || !parse_super_ip(pkt, ip)) return 0;
  bool tcp;
  switch (type) {
    case kVirtioNetHdrGsoTcpv4:
      if (ip.v6 || ip.protocol != kProtoTcp) return 0;
      tcp = true;
      break;
    case kVirtioNetHdrGsoTcpv6:
      if (!ip.v6 || ip.protocol != kProtoTcp) return 0;
      tcp = true;
      break;
    case kVirtioNetHdrGsoUdpL4:
      if (ecn || ip.protocol != kProtoUdp) return 0;
      tcp = false;
      break;
    default:
      return 0;
  }
  pkt = pkt.first(ip.packet_len);
  const size_t iph = ip.header_len;
  size_t l4h;
  if (tcp) {
    if (pkt.size() < iph + kTcpMinHeader) return 0;
    l4h = size_t{pkt[iph + 12]} / 16 * 4;
    if (l4h < kTcpMinHeader || pkt.size() < iph + l4h) return 0;
  } else {
    l4h = kUdpHeader;
    if (pkt.size() < iph + l4h) return 0;
  }
  const size_t headers = iph + l4h;
  const size_t payload = pkt.size() - headers;
  if (payload == 0) return 0;
  const size_t gso = h.gso_size;
  const size_t count = (payload + gso - 1) / gso;
  const size_t last_len = headers + payload - (count - 1) * gso;
  const size_t full_len = count > 1 ? headers + gso : last_len;
  if (count > sizes.size() || !fits(0, full_len, out, stride, sizes) ||
      !fits(count - 1, last_len, out, stride, sizes)) {
    return 0;
  }

  const uint8_t* src = pkt.data();
  const uint16_t id = ip.v6 ? 0 : load16(src + 4);
  const uint32_t seq = tcp ? load32(src + iph + 4) : 0;
  const uint8_t flags = tcp ? src[iph + 13] : 0;
  for (size_t i = 0; i < count; ++i) {
    const size_t offset = i * gso;
    const size_t seg_payload = i + 1 < count ? gso : payload - offset;
    const size_t seg_len = headers + seg_payload;
    const size_t l4_len = l4h + seg_payload;
    uint8_t* seg = out.data() + i * stride;
    std::memcpy(seg, src, headers);

    uint64_t sum;
    if (ip.v6) {
      store16(seg + 4, static_cast<uint16_t>(l4_len));
      sum = pseudo_header_sum_ipv6(std::span<const uint8_t, 32>(seg + 8, 32), ip.protocol,
                                   static_cast<uint32_t>(l4_len));
    } else {
      store16(seg + 2, static_cast<uint16_t>(seg_len));
      store16(seg + 4, static_cast<uint16_t>(id + i));
      store16(seg + 10, 0);
      store16(seg + 10, checksum_finish(checksum_add({seg, iph})));
      sum = pseudo_header_sum_ipv4(std::span<const uint8_t, 8>(seg + 12, 8), ip.protocol,
                                   static_cast<uint32_t>(l4_len));
    }

    uint8_t* l4 = seg + iph;
    if (tcp) {
      store32(l4 + 4, static_cast<uint32_t>(seq + offset));
      uint8_t f = flags;
      if (i + 1 < count) f &= static_cast<uint8_t>(~(kTcpFin | kTcpPsh));
      if (i > 0) f &= static_cast<uint8_t>(~kTcpCwr);
      l4[13] = f;
      store16(l4 + 16, 0);
    } else {
      store16(l4 + 4, static_cast<uint16_t>(l4_len));
      store16(l4 + 6, 0);
    }
    sum = checksum_add({l4, l4h}, sum);
    sum = checksum_copy(seg + headers, pkt.subspan(headers + offset, seg_payload), sum);
    const uint16_t csum = checksum_finish(sum);
    // UDP reserves 0 for "no checksum"; TCP keeps what tcp_gso_segment would compute.
    store16(l4 + (tcp ? 16 : 6), !tcp && csum == 0 ? 0xffff : csum);
    sizes[i] = static_cast<uint16_t>(seg_len);
  }
  return count;
}

}  // namespace

size_t gso_split(std::span<const uint8_t> tun_read, std::span<uint8_t> out, size_t stride,
                 std::span<uint16_t> sizes) {
  if (tun_read.size() < kVirtioNetHdrSize) return 0;
  const VirtioNetHdr h = read_virtio_net_hdr(tun_read.first<kVirtioNetHdrSize>());
  const std::span<const uint8_t> pkt = tun_read.subspan(kVirtioNetHdrSize);
  if (h.gso_type == kVirtioNetHdrGsoNone) {
    if (h.flags & kVirtioNetHdrFNeedsCsum) return complete_checksum(pkt, h, out, stride, sizes);
    return copy_whole(pkt, out, stride, sizes);
  }
  return segment(pkt, h, out, stride, sizes);
}

}  // namespace qvpn::dataplane
