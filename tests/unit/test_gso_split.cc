// gso_split: TSO/USO super-packets and partial checksums from a TUN read, split into complete
// packets. Expected segments are built independently (tests' own packet builder and a naive
// checksum) and compared byte for byte.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "dataplane/gso_split.h"
#include "dataplane/inet_checksum.h"
#include "dataplane/virtio_net_hdr.h"
#include "support/packets.h"

using namespace qvpn::dataplane;
using namespace qvpn::test;

namespace {

// A TUN read as the kernel gives it: header, then the packet with its L4 checksum field holding
// the folded pseudo-header sum over the whole super-packet.
std::vector<uint8_t> tun_read(const Spec& s, uint8_t gso_type, uint16_t gso_size,
                              uint16_t hdr_len_override = 0) {
  std::vector<uint8_t> pkt = make_packet(s);
  const size_t iph = ip_header_len(pkt);
  const uint8_t proto = s.udp ? 17 : 6;
  std::vector<uint8_t> pseudo(s.v6 ? pkt.begin() + 8 : pkt.begin() + 12,
                              s.v6 ? pkt.begin() + 40 : pkt.begin() + 20);
  const size_t l4_len = pkt.size() - iph;
  pseudo.insert(pseudo.end(),
                {0, proto, static_cast<uint8_t>(l4_len >> 8), static_cast<uint8_t>(l4_len)});
  const size_t field = iph + (s.udp ? 6 : 16);
  put16(pkt, field, ref_fold(pseudo));
  VirtioNetHdr h;
  h.flags = kVirtioNetHdrFNeedsCsum;
  h.gso_type = gso_type;
  h.hdr_len = hdr_len_override
                  ? hdr_len_override
                  : static_cast<uint16_t>(iph + (s.udp ? 8 : 20 + s.tcp_options.size()));
  h.gso_size = gso_size;
  h.csum_start = static_cast<uint16_t>(iph);
  h.csum_offset = s.udp ? 6 : 16;
  std::vector<uint8_t> out(kVirtioNetHdrSize);
  write_virtio_net_hdr(h, std::span<uint8_t, kVirtioNetHdrSize>(out.data(), kVirtioNetHdrSize));
  out.insert(out.end(), pkt.begin(), pkt.end());
  return out;
}

std::vector<uint8_t> plain_read(const std::vector<uint8_t>& pkt) {
  std::vector<uint8_t> out(kVirtioNetHdrSize + pkt.size(), 0);
  std::copy(pkt.begin(), pkt.end(), out.begin() + kVirtioNetHdrSize);
  return out;
}

// The segments Linux's tcp_gso_segment / __udp_gso_segment would produce.
std::vector<std::vector<uint8_t>> expected_segments(const Spec& super, uint16_t gso) {
  std::vector<std::vector<uint8_t>> segs;
  for (size_t off = 0, i = 0; off < super.payload; off += gso, ++i) {
    Spec s = super;
    s.seq = super.seq + static_cast<uint32_t>(off);
    s.payload = std::min<size_t>(gso, super.payload - off);
    s.id = static_cast<uint16_t>(super.id + i);
    const bool last = off + gso >= super.payload;
    if (!last) s.flags &= static_cast<uint8_t>(~(kFin | kPsh));
    if (i > 0) s.flags &= static_cast<uint8_t>(~kCwr);
    segs.push_back(make_packet(s));
  }
  return segs;
}

struct Split {
  size_t count = 0;
  std::vector<std::vector<uint8_t>> segs;
};

constexpr size_t kStride = 2048;

Split split(const std::vector<uint8_t>& read, size_t stride = kStride, size_t max_segs = 64,
            size_t out_size = 0) {
  std::vector<uint8_t> out(out_size ? out_size : stride * max_segs, 0xee);
  std::vector<uint16_t> sizes(max_segs);
  Split r;
  r.count = gso_split(read, out, stride, sizes);
  for (size_t i = 0; i < r.count; ++i) {
    r.segs.emplace_back(out.begin() + i * stride, out.begin() + i * stride + sizes[i]);
  }
  return r;
}

Spec spec(size_t payload, bool v6 = false, bool udp = false) {
  Spec s;
  s.payload = payload;
  s.v6 = v6;
  s.udp = udp;
  return s;
}

}  // namespace

TEST_CASE("TSO super-packets split like tcp_gso_segment") {
  struct Case {
    const char* name;
    bool v6;
    size_t payload;
    uint16_t gso;
    uint8_t flags;
    bool ecn;
    size_t ip_opts;
    size_t tcp_opts;
    size_t want;
  };
  const Case cases[] = {
      {"v4 exact multiple", false, 3000, 1000, kAck | kPsh, false, 0, 0, 3},
      {"v4 odd tail", false, 2500, 1000, kAck | kPsh, false, 0, 0, 3},
      {"v4 last segment 1 byte", false, 2001, 1000, kAck, false, 0, 0, 3},
      {"v4 one segment", false, 900, 1000, kAck | kPsh, false, 0, 0, 1},
      {"v4 payload == gso_size", false, 1000, 1000, kAck, false, 0, 0, 1},
      {"v4 FIN PSH CWR with ECN", false, 4321, 1200, kAck | kPsh | kFin | kCwr, true, 0, 0, 4},
      {"v4 odd gso_size", false, 1001, 333, kAck, false, 0, 0, 4},
      {"v4 with IP options and timestamps", false, 5000, 1388, kAck | kPsh, false, 4, 12, 4},
      {"v4 gso_size 1", false, 17, 1, kAck | kFin, false, 0, 0, 17},
      {"v4 64 KiB", false, 65535 - 40, 1460, kAck, false, 0, 0, 45},
      {"v6 exact multiple", true, 3000, 1000, kAck | kPsh, false, 0, 0, 3},
      {"v6 odd tail", true, 2999, 1000, kAck, false, 0, 0, 3},
      {"v6 last segment 1 byte", true, 1441, 1440, kAck | kPsh, false, 0, 12, 2},
      {"v6 FIN PSH CWR with ECN", true, 7000, 1220, kAck | kPsh | kFin | kCwr, true, 0, 0, 6},
      {"v6 64 KiB", true, 65535 - 20, 1440, kAck, false, 0, 0, 46},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Spec s;
    s.v6 = c.v6;
    s.payload = c.payload;
    s.flags = c.flags;
    s.seq = 0xfffff000;                 // wraps during the split
    s.id = 0xfffe;                      // so does the IPv4 ID
    s.ip_options.assign(c.ip_opts, 1);  // NOPs
    for (size_t i = 0; i < c.tcp_opts; ++i) s.tcp_options.push_back(i < 2 ? 1 : uint8_t(i));
    uint8_t type = c.v6 ? kVirtioNetHdrGsoTcpv6 : kVirtioNetHdrGsoTcpv4;
    if (c.ecn) type |= kVirtioNetHdrGsoEcn;
    const Split r = split(tun_read(s, type, c.gso));
    const auto want = expected_segments(s, c.gso);
    REQUIRE(want.size() == c.want);
    REQUIRE(r.count == c.want);
    for (size_t i = 0; i < r.count; ++i) {
      CAPTURE(i);
      CHECK(r.segs[i] == want[i]);
      CHECK(ref_ip_valid(r.segs[i]));
      CHECK(ref_l4_valid(r.segs[i]));
      const size_t iph = ip_header_len(r.segs[i]);
      const uint8_t f = r.segs[i][iph + 13];
      const bool last = i + 1 == r.count;
      CHECK(((f & kFin) != 0) == (last && (c.flags & kFin) != 0));
      CHECK(((f & kPsh) != 0) == (last && (c.flags & kPsh) != 0));
      CHECK(((f & kCwr) != 0) == (i == 0 && (c.flags & kCwr) != 0));
    }
  }
}

TEST_CASE("USO super-packets split like __udp_gso_segment") {
  for (const bool v6 : {false, true}) {
    for (const size_t payload :
         {size_t{1}, size_t{1200}, size_t{3600}, size_t{3601}, size_t{8000}}) {
      CAPTURE(v6);
      CAPTURE(payload);
      Spec s;
      s.v6 = v6;
      s.udp = true;
      s.payload = payload;
      s.seq = 0;
      const Split r = split(tun_read(s, kVirtioNetHdrGsoUdpL4, 1200));
      const auto want = expected_segments(s, 1200);
      REQUIRE(r.count == want.size());
      for (size_t i = 0; i < r.count; ++i) {
        CHECK(r.segs[i] == want[i]);
        CHECK(ref_ip_valid(r.segs[i]));
        CHECK(ref_l4_valid(r.segs[i]));
        CHECK(get16(r.segs[i], ip_header_len(r.segs[i]) + 4) ==
              r.segs[i].size() - ip_header_len(r.segs[i]));
      }
    }
  }
}

TEST_CASE("a UDP checksum that computes to zero is sent as 0xffff") {
  for (const bool v6 : {false, true}) {
    CAPTURE(v6);
    // Find a payload whose checksum is 0: vary its first two bytes (the reference builder
    // stores 0xffff then, as RFC 768 requires).
    Spec s;
    s.v6 = v6;
    s.udp = true;
    s.payload = 40;
    bool found = false;
    for (uint32_t salt = 0; salt < 256 && !found; ++salt) {
      s.salt = static_cast<uint8_t>(salt);
      std::vector<uint8_t> p = make_packet(s);
      const size_t iph = ip_header_len(p);
      found = ref_l4_checksum(p, iph, v6, 17) == 0;
    }
    if (!found) {
      // Adjust two payload bytes directly instead, through the partial-checksum path below.
      s.salt = 3;
    }
    std::vector<uint8_t> pkt = make_packet(s);
    const size_t iph = ip_header_len(pkt);
    for (uint32_t w = 0; w <= 0xffff; ++w) {
      put16(pkt, iph + 8, static_cast<uint16_t>(w));
      if (ref_l4_checksum(pkt, iph, v6, 17) == 0) break;
    }
    REQUIRE(ref_l4_checksum(pkt, iph, v6, 17) == 0);
    // As a USO read of one segment and as a GSO_NONE partial checksum.
    std::vector<uint8_t> pseudo(v6 ? pkt.begin() + 8 : pkt.begin() + 12,
                                v6 ? pkt.begin() + 40 : pkt.begin() + 20);
    const size_t l4_len = pkt.size() - iph;
    pseudo.insert(pseudo.end(), {0, 17, 0, static_cast<uint8_t>(l4_len)});
    put16(pkt, iph + 6, ref_fold(pseudo));
    for (const uint8_t type : {kVirtioNetHdrGsoUdpL4, kVirtioNetHdrGsoNone}) {
      CAPTURE(int(type));
      VirtioNetHdr h;
      h.flags = kVirtioNetHdrFNeedsCsum;
      h.gso_type = type;
      h.gso_size = type ? 1000 : 0;
      h.csum_start = static_cast<uint16_t>(iph);
      h.csum_offset = 6;
      std::vector<uint8_t> read(kVirtioNetHdrSize);
      write_virtio_net_hdr(h,
                           std::span<uint8_t, kVirtioNetHdrSize>(read.data(), kVirtioNetHdrSize));
      read.insert(read.end(), pkt.begin(), pkt.end());
      const Split r = split(read);
      REQUIRE(r.count == 1);
      CHECK(get16(r.segs[0], iph + 6) == 0xffff);
      CHECK(ref_l4_valid(r.segs[0]));
    }
  }
}

TEST_CASE("GSO_NONE: copied as is, or with the partial checksum completed") {
  SUBCASE("no flags: any bytes are copied") {
    const std::vector<uint8_t> junk = {0x45, 1, 2, 3, 4, 5, 6};
    const Split r = split(plain_read(junk));
    REQUIRE(r.count == 1);
    CHECK(r.segs[0] == junk);
  }
  SUBCASE("no flags: IPv6 with extension headers is copied") {
    std::vector<uint8_t> p = make_packet(spec(50, true));
    p[6] = 0;  // hop-by-hop
    const Split r = split(plain_read(p));
    REQUIRE(r.count == 1);
    CHECK(r.segs[0] == p);
  }
  SUBCASE("NEEDS_CSUM for TCP and UDP, IPv4 and IPv6, even and odd lengths") {
    for (const bool v6 : {false, true}) {
      for (const bool udp : {false, true}) {
        for (const size_t payload : {size_t{0}, size_t{1}, size_t{2}, size_t{1399}, size_t{1400}}) {
          CAPTURE(v6);
          CAPTURE(udp);
          CAPTURE(payload);
          Spec s;
          s.v6 = v6;
          s.udp = udp;
          s.payload = payload;
          s.flags = kAck | kPsh;
          // gso_size is ignored for GSO_NONE.
          const Split r = split(tun_read(s, kVirtioNetHdrGsoNone, 1000));
          REQUIRE(r.count == 1);
          CHECK(r.segs[0] == make_packet(s));
        }
      }
    }
  }
  SUBCASE("NEEDS_CSUM with the checksum field out of the packet") {
    std::vector<uint8_t> read = tun_read(spec(10), kVirtioNetHdrGsoNone, 0);
    for (const auto& c : std::vector<std::pair<uint16_t, uint16_t>>{
             {20, 29}, {20, 30}, {49, 0}, {50, 0}, {0xffff, 0xffff}, {48, 1}}) {
      const uint16_t start = c.first, offset = c.second;
      CAPTURE(start);
      CAPTURE(offset);
      std::vector<uint8_t> r = read;
      std::memcpy(&r[6], &start, 2);
      std::memcpy(&r[8], &offset, 2);
      const bool fits = start + offset + 2 <= 50;
      CHECK(split(r).count == (fits ? 1u : 0u));
    }
  }
}

TEST_CASE("hdr_len from the kernel is not trusted") {
  Spec s;
  s.payload = 3000;
  for (const uint16_t hdr_len :
       {uint16_t{1}, uint16_t{20}, uint16_t{54}, uint16_t{999}, uint16_t{0xffff}}) {
    CAPTURE(hdr_len);
    const Split r = split(tun_read(s, kVirtioNetHdrGsoTcpv4, 1000, hdr_len));
    REQUIRE(r.count == 3);
    CHECK(r.segs == expected_segments(s, 1000));
  }
}

TEST_CASE("malformed or unsplittable reads give 0") {
  const Spec tcp4 = spec(3000);
  const Spec tcp6 = spec(3000, true);
  const Spec udp4 = spec(3000, false, true);
  struct Case {
    std::string name;
    std::vector<uint8_t> read;
    size_t stride = kStride;
    size_t max_segs = 64;
    size_t out_size = 0;
  };
  std::vector<Case> cases;
  auto add = [&](const char* name, std::vector<uint8_t> read) {
    cases.push_back({name, std::move(read)});
  };
  const auto v4 = tun_read(tcp4, kVirtioNetHdrGsoTcpv4, 1000);
  auto edit = [&](std::vector<uint8_t> r, size_t at, uint8_t v) {
    r[at] = v;
    return r;
  };
  add("empty", {});
  add("header only", std::vector<uint8_t>(v4.begin(), v4.begin() + 10));
  add("9 bytes", std::vector<uint8_t>(v4.begin(), v4.begin() + 9));
  add("GSO_NONE, nothing after the header", std::vector<uint8_t>(10, 0));
  add("gso_size 0", tun_read(tcp4, kVirtioNetHdrGsoTcpv4, 0));
  add("TCPV4 on IPv6", tun_read(tcp6, kVirtioNetHdrGsoTcpv4, 1000));
  add("TCPV6 on IPv4", tun_read(tcp4, kVirtioNetHdrGsoTcpv6, 1000));
  add("UDP_L4 on TCP", tun_read(tcp4, kVirtioNetHdrGsoUdpL4, 1000));
  add("TCPV4 on UDP", tun_read(udp4, kVirtioNetHdrGsoTcpv4, 1000));
  add("legacy UFO", tun_read(udp4, kVirtioNetHdrGsoUdp, 1000));
  add("UDP_L4 with ECN", tun_read(udp4, kVirtioNetHdrGsoUdpL4 | kVirtioNetHdrGsoEcn, 1000));
  add("unknown gso_type", tun_read(tcp4, 2, 1000));
  add("IP version 5", edit(v4, 10, 0x55));
  add("IHL 4", edit(v4, 10, 0x44));
  add("IHL past the packet", edit(edit(v4, 10, 0x4f), 13, 30));
  add("total length past the buffer", edit(v4, 12, 0xff));
  add("total length below the headers", edit(edit(v4, 12, 0), 13, 30));
  add("more fragments", edit(v4, 16, 0x20));
  add("fragment offset", edit(v4, 17, 0x01));
  add("TCP data offset 4", edit(v4, 10 + 20 + 12, 0x40));
  add("TCP data offset past the packet", edit(edit(edit(v4, 12, 0), 13, 50), 10 + 20 + 12, 0xf0));
  add("headers only, no payload", tun_read(spec(0), kVirtioNetHdrGsoTcpv4, 1000));
  auto v6 = tun_read(tcp6, kVirtioNetHdrGsoTcpv6, 1000);
  add("IPv6 hop-by-hop header", edit(v6, 10 + 6, 0));
  add("IPv6 payload length past the buffer", edit(v6, 10 + 4, 0xff));
  add("IPv6 truncated", std::vector<uint8_t>(v6.begin(), v6.begin() + 10 + 39));
  add("IPv6 TCP header truncated", std::vector<uint8_t>(v6.begin(), v6.begin() + 10 + 50));
  cases.push_back({"segment longer than stride", v4, 1039});
  cases.push_back({"too few sizes", v4, kStride, 2});
  cases.push_back({"out too small", v4, kStride, 64, 2 * kStride + 1039});
  cases.push_back({"stride 0", v4, 0, 64, 4096});
  cases.push_back({"non-GSO longer than stride", plain_read(make_packet(spec(100))), 139});
  cases.push_back({"non-GSO, no room for sizes", plain_read(make_packet(spec(100))), kStride, 0});
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CHECK(split(c.read, c.stride, c.max_segs, c.out_size).count == 0);
  }
  // And the boundaries that do fit.
  CHECK(split(v4, 1040).count == 3);
  CHECK(split(v4, kStride, 3).count == 3);
  CHECK(split(v4, kStride, 64, 2 * kStride + 1040).count == 3);
  CHECK(split(plain_read(make_packet(spec(100))), 140).count == 1);
}

TEST_CASE("trailing bytes after the IP packet are ignored for GSO") {
  Spec s;
  s.payload = 2500;
  std::vector<uint8_t> read = tun_read(s, kVirtioNetHdrGsoTcpv4, 1000);
  read.insert(read.end(), {1, 2, 3});
  const Split r = split(read);
  REQUIRE(r.count == 3);
  CHECK(r.segs == expected_segments(s, 1000));
}

TEST_CASE("random bytes after valid headers never crash and give valid segments") {
  std::mt19937 rng(7);
  for (int iter = 0; iter < 3000; ++iter) {
    Spec s;
    s.v6 = rng() & 1;
    s.udp = (rng() & 3) == 0;
    s.payload = rng() % 5000;
    const uint8_t type = s.udp  ? kVirtioNetHdrGsoUdpL4
                         : s.v6 ? kVirtioNetHdrGsoTcpv6
                                : kVirtioNetHdrGsoTcpv4;
    std::vector<uint8_t> read = tun_read(s, type, static_cast<uint16_t>(rng() % 1500));
    const int flips = rng() % 4;
    for (int i = 0; i < flips; ++i)
      read[rng() % std::min<size_t>(read.size(), 80)] ^= uint8_t(1u << (rng() % 8));
    if (rng() % 4 == 0) read.resize(rng() % (read.size() + 1));
    const Split r = split(read, 1600, 64);
    for (const auto& seg : r.segs) {
      if (read[1] == kVirtioNetHdrGsoNone) continue;
      CHECK(ref_ip_valid(seg));
      CHECK(ref_l4_valid(seg));
    }
  }
}

TEST_CASE("inet_checksum agrees with the naive word-by-word sum") {
  std::mt19937 rng(11);
  std::vector<uint8_t> buf(3000);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  std::vector<uint8_t> copy(buf.size());
  for (size_t start = 0; start < 9; ++start) {
    for (size_t len = 0; len + start <= buf.size(); len += (len < 100 ? 1 : 97)) {
      CAPTURE(start);
      CAPTURE(len);
      const std::span<const uint8_t> piece(buf.data() + start, len);
      const std::vector<uint8_t> v(piece.begin(), piece.end());
      const uint16_t want = v.empty() ? 0 : ref_fold(v);
      CHECK(checksum_fold(checksum_add(piece)) == want);
      CHECK(checksum_fold(checksum_copy(copy.data(), piece, 0)) == want);
      CHECK(std::equal(piece.begin(), piece.end(), copy.begin()));
      // Pieces of even length chain.
      const size_t half = len / 4 * 2;
      CHECK(checksum_fold(checksum_add(piece.subspan(half), checksum_add(piece.first(half)))) ==
            want);
    }
  }
  // All ones: the sum of 0xffff words folds to 0xffff, never 0.
  const std::vector<uint8_t> ones(64, 0xff);
  CHECK(checksum_fold(checksum_add(ones)) == 0xffff);
  CHECK(checksum_finish(checksum_add(ones)) == 0);
  const uint8_t addrs4[8] = {10, 0, 0, 1, 10, 0, 0, 2};
  CHECK(checksum_fold(pseudo_header_sum_ipv4(addrs4, 6, 0x10010)) ==
        ref_fold({10, 0, 0, 1, 10, 0, 0, 2, 0, 6, 0, 1, 0, 0x10}));
}
