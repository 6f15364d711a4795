// gro_coalesce: which packets become one TUN write, what the super-packet's virtio_net_hdr and
// headers hold, and that gso_split gives the original packets back.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "dataplane/gro_coalesce.h"
#include "dataplane/gso_split.h"
#include "dataplane/virtio_net_hdr.h"
#include "support/packets.h"

using namespace qvpn::dataplane;
using namespace qvpn::test;

namespace {

using Packets = std::vector<std::vector<uint8_t>>;

// Segment i of flow f: 1000-byte payloads, consecutive sequence numbers and IPv4 IDs.
Spec seg(int f, int i, bool v6 = false, size_t mss = 1000) {
  Spec s;
  s.v6 = v6;
  s.sport = static_cast<uint16_t>(40000 + f);
  s.seq = 7000 + static_cast<uint32_t>(i * mss);
  s.id = static_cast<uint16_t>(100 + i);
  s.payload = mss;
  s.salt = static_cast<uint8_t>(f);
  return s;
}

Spec spec_udp() {
  Spec s;
  s.udp = true;
  s.payload = 300;
  return s;
}

// s changed by f.
Spec with(Spec s, const std::function<void(Spec&)>& f) {
  f(s);
  return s;
}

Packets build(const std::vector<Spec>& specs) {
  Packets out;
  for (const Spec& s : specs) out.push_back(make_packet(s));
  return out;
}

Packets coalesce(const Packets& pkts) {
  const Coalesced c = coalesce_all(pkts);
  Packets result;
  for (const GroWrite& w : c.writes) {
    REQUIRE(w.data >= c.out.data());
    REQUIRE(w.data + w.len <= c.out.data() + c.out.size());
    result.emplace_back(w.data, w.data + w.len);
  }
  return result;
}

VirtioNetHdr header_of(const std::vector<uint8_t>& write) {
  return read_virtio_net_hdr(
      std::span<const uint8_t, kVirtioNetHdrSize>(write.data(), kVirtioNetHdrSize));
}

// A write back into packets, as the kernel's GSO would segment it.
Packets split_write(const std::vector<uint8_t>& write) {
  constexpr size_t kStride = 1600, kMax = 128;
  std::vector<uint8_t> out(kStride * kMax);
  std::vector<uint16_t> sizes(kMax);
  const size_t n = gso_split(write, out, kStride, sizes);
  Packets segs;
  for (size_t i = 0; i < n; ++i)
    segs.emplace_back(out.begin() + i * kStride, out.begin() + i * kStride + sizes[i]);
  return segs;
}

// Checks that the writes group exactly `groups` (indices into pkts), single packets unchanged
// behind a zero header, super-packets well formed and splitting back into their packets.
void check_groups(const Packets& pkts, const std::vector<std::vector<size_t>>& groups) {
  const Packets writes = coalesce(pkts);
  REQUIRE(writes.size() == groups.size());
  for (size_t w = 0; w < writes.size(); ++w) {
    CAPTURE(w);
    const auto& write = writes[w];
    const VirtioNetHdr h = header_of(write);
    const std::vector<uint8_t> ip(write.begin() + kVirtioNetHdrSize, write.end());
    if (groups[w].size() == 1) {
      CHECK(h.flags == 0);
      CHECK(h.gso_type == 0);
      CHECK(h.hdr_len == 0);
      CHECK(h.gso_size == 0);
      CHECK(h.csum_start == 0);
      CHECK(h.csum_offset == 0);
      CHECK(ip == pkts[groups[w][0]]);
      continue;
    }
    const auto& first = pkts[groups[w][0]];
    const bool v6 = first[0] >> 4 == 6;
    const size_t iph = v6 ? 40 : 20;
    const size_t th = size_t{first[iph + 12]} / 16 * 4;
    CHECK(h.flags == kVirtioNetHdrFNeedsCsum);
    CHECK(h.gso_type == (v6 ? kVirtioNetHdrGsoTcpv6 : kVirtioNetHdrGsoTcpv4));
    CHECK(h.hdr_len == iph + th);
    CHECK(h.gso_size == first.size() - iph - th);
    CHECK(h.csum_start == iph);
    CHECK(h.csum_offset == 16);
    CHECK(ref_ip_valid(ip));
    size_t total = iph + th;
    for (size_t i : groups[w]) total += pkts[i].size() - iph - th;
    CHECK(ip.size() == total);
    // The TCP checksum field holds the folded pseudo-header sum (CHECKSUM_PARTIAL).
    std::vector<uint8_t> pseudo(v6 ? ip.begin() + 8 : ip.begin() + 12,
                                v6 ? ip.begin() + 40 : ip.begin() + 20);
    pseudo.insert(pseudo.end(), {0, 6, static_cast<uint8_t>((total - iph) >> 8),
                                 static_cast<uint8_t>(total - iph)});
    CHECK(get16(ip, iph + 16) == ref_fold(pseudo));
    Packets want;
    for (size_t i : groups[w]) want.push_back(pkts[i]);
    CHECK(split_write(write) == want);
  }
}

std::vector<uint8_t> truncated(std::vector<uint8_t> p, size_t n) {
  p.resize(n);
  return p;
}

}  // namespace

TEST_CASE("which packets are coalesced") {
  struct Case {
    std::string name;
    std::function<std::vector<Spec>()> specs;
    std::vector<std::vector<size_t>> groups;
  };
  const std::vector<uint8_t> ts = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};  // NOP NOP timestamps
  const std::vector<uint8_t> ts2 = {1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 2};
  const std::vector<Case> cases = {
      {"three in a row, IPv4",
       [] {
         return std::vector{seg(0, 0), seg(0, 1), seg(0, 2)};
       },
       {{0, 1, 2}}},
      {"three in a row, IPv6",
       [] {
         return std::vector{seg(0, 0, true), seg(0, 1, true), seg(0, 2, true)};
       },
       {{0, 1, 2}}},
      {"a single packet", [] { return std::vector{seg(0, 0)}; }, {{0}}},
      {"PSH on the last is merged",
       [&] {
         return std::vector{seg(0, 0), seg(0, 1),
                            with(seg(0, 2), [](Spec& s) { s.flags = kAck | kPsh; })};
       },
       {{0, 1, 2}}},
      {"PSH in the middle ends the super-packet",
       [&] {
         return std::vector{seg(0, 0), with(seg(0, 1), [](Spec& s) { s.flags = kAck | kPsh; }),
                            seg(0, 2), seg(0, 3)};
       },
       {{0, 1}, {2, 3}}},
      {"PSH first: alone",
       [&] {
         return std::vector{with(seg(0, 0), [](Spec& s) { s.flags = kAck | kPsh; }), seg(0, 1),
                            seg(0, 2)};
       },
       {{0}, {1, 2}}},
      {"a shorter segment ends it; odd tail of 1 byte",
       [&] {
         return std::vector{seg(0, 0), with(seg(0, 1), [](Spec& s) { s.payload = 1; }),
                            with(seg(0, 2), [](Spec& s) { s.seq -= 999; })};
       },
       {{0, 1}, {2}}},
      {"a longer segment starts a new one",
       [&] {
         return std::vector{seg(0, 0, false, 500),
                            with(seg(0, 1, false, 500), [](Spec& s) { s.payload = 1000; }),
                            with(seg(0, 3, false, 500), [](Spec& s) { s.id = 102; })};
       },
       {{0}, {1, 2}}},
      {"SYN, FIN, RST, URG, ECE, CWR are never merged",
       [&] {
         std::vector<Spec> v;
         int i = 0;
         for (uint8_t f : {kSyn, kFin, kRst, kUrg, kEce, kCwr}) {
           v.push_back(seg(0, i++));
           v.push_back(with(seg(0, i++), [f](Spec& s) { s.flags = kAck | f; }));
         }
         return v;
       },
       {{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}, {9}, {10}, {11}}},
      {"pure ACKs pass alone and split the flow",
       [&] {
         return std::vector{seg(0, 0), with(seg(0, 1), [](Spec& s) { s.payload = 0; }), seg(0, 1),
                            seg(0, 2)};
       },
       {{0}, {1}, {2, 3}}},
      {"out of order is not merged",
       [] {
         return std::vector{seg(0, 0), seg(0, 2), seg(0, 1), seg(0, 3)};
       },
       {{0}, {1}, {2}, {3}}},
      {"retransmission is not merged",
       [] {
         return std::vector{seg(0, 0), seg(0, 1), with(seg(0, 1), [](Spec& s) { s.id = 102; })};
       },
       {{0, 1}, {2}}},
      {"bad TCP checksum in the middle: alone, flow restarts after it",
       [&] {
         return std::vector{seg(0, 0), with(seg(0, 1), [](Spec& s) { s.bad_l4_csum = true; }),
                            seg(0, 2), seg(0, 3)};
       },
       {{0}, {1}, {2, 3}}},
      {"bad TCP checksum on the first",
       [&] {
         return std::vector{with(seg(0, 0), [](Spec& s) { s.bad_l4_csum = true; }), seg(0, 1),
                            seg(0, 2)};
       },
       {{0}, {1, 2}}},
      {"bad IPv4 header checksum",
       [&] {
         return std::vector{seg(0, 0), with(seg(0, 1), [](Spec& s) { s.bad_ip_csum = true; }),
                            seg(0, 2)};
       },
       {{0}, {1}, {2}}},
      {"bad IPv6 TCP checksum at the end",
       [&] {
         return std::vector{seg(0, 0, true), seg(0, 1, true),
                            with(seg(0, 2, true), [](Spec& s) { s.bad_l4_csum = true; })};
       },
       {{0, 1}, {2}}},
      {"identical timestamps merge",
       [&] {
         std::vector<Spec> v;
         for (int i = 0; i < 3; ++i)
           v.push_back(with(seg(0, i), [&](Spec& s) { s.tcp_options = ts; }));
         return v;
       },
       {{0, 1, 2}}},
      {"different timestamps do not",
       [&] {
         return std::vector{with(seg(0, 0), [&](Spec& s) { s.tcp_options = ts; }),
                            with(seg(0, 1), [&](Spec& s) { s.tcp_options = ts2; })};
       },
       {{0}, {1}}},
      {"options on one only",
       [&] {
         return std::vector{seg(0, 0), with(seg(0, 1), [&](Spec& s) { s.tcp_options = ts; })};
       },
       {{0}, {1}}},
      {"different ACK numbers",
       [&] {
         return std::vector{seg(0, 0), with(seg(0, 1), [](Spec& s) { s.ack += 1; })};
       },
       {{0}, {1}}},
      {"different TTL, TOS, DF",
       [&] {
         return std::vector{seg(0, 0), with(seg(0, 1), [](Spec& s) { s.ttl = 63; }),
                            with(seg(0, 2), [](Spec& s) { s.ttl = 63, s.tos = 4; }),
                            with(seg(0, 3), [](Spec& s) { s.ttl = 63, s.tos = 4, s.df = false; })};
       },
       {{0}, {1}, {2}, {3}}},
      {"IPv6 different hop limit, traffic class, flow label",
       [&] {
         return std::vector{
             seg(0, 0, true), with(seg(0, 1, true), [](Spec& s) { s.ttl = 1; }),
             with(seg(0, 2, true), [](Spec& s) { s.ttl = 1, s.tos = 8; }),
             with(seg(0, 3, true), [](Spec& s) { s.ttl = 1, s.tos = 8, s.flow_label = 7; })};
       },
       {{0}, {1}, {2}, {3}}},
      {"IP IDs not consecutive",
       [&] {
         return std::vector{seg(0, 0), with(seg(0, 1), [](Spec& s) { s.id = 200; })};
       },
       {{0}, {1}}},
      {"IP IDs all equal without DF",
       [&] {
         return std::vector{with(seg(0, 0), [](Spec& s) { s.df = false; }),
                            with(seg(0, 1), [](Spec& s) { s.df = false, s.id = 100; })};
       },
       {{0}, {1}}},
      {"IP IDs consecutive without DF",
       [&] {
         return std::vector{with(seg(0, 0), [](Spec& s) { s.df = false; }),
                            with(seg(0, 1), [](Spec& s) { s.df = false; })};
       },
       {{0, 1}}},
      {"IP IDs switching mode",
       [&] {
         return std::vector{seg(0, 0), seg(0, 1), with(seg(0, 2), [](Spec& s) { s.id = 101; })};
       },
       {{0, 1}, {2}}},
      {"IPv4 options",
       [&] {
         return std::vector{with(seg(0, 0),
                                 [](Spec& s) {
                                   s.ip_options = {1, 1, 1, 0};
                                 }),
                            with(seg(0, 1), [](Spec& s) {
                              s.ip_options = {1, 1, 1, 0};
                            })};
       },
       {{0}, {1}}},
      {"different ports and addresses are different flows",
       [&] {
         return std::vector{seg(0, 0), with(seg(0, 1), [](Spec& s) { s.dport = 80; }),
                            with(seg(0, 1), [](Spec& s) { s.src = 9; }),
                            with(seg(0, 1), [](Spec& s) { s.dst = 9; }), seg(0, 1, true)};
       },
       {{0}, {1}, {2}, {3}, {4}}},
      {"interleaved flows",
       [] {
         return std::vector{seg(0, 0),       seg(1, 0, true), seg(2, 0), seg(0, 1),
                            seg(1, 1, true), seg(0, 2),       seg(2, 1), seg(1, 2, true)};
       },
       {{0, 3, 5}, {1, 4, 7}, {2, 6}}},
      {"UDP between segments does not interrupt",
       [] {
         return std::vector{seg(0, 0), spec_udp(), seg(0, 1)};
       },
       {{0, 2}, {1}}},
      {"sequence numbers wrap",
       [&] {
         std::vector<Spec> v;
         for (int i = 0; i < 3; ++i)
           v.push_back(
               with(seg(0, i), [i](Spec& s) { s.seq = 0xfffffc18u + 1000u * uint32_t(i); }));
         return v;
       },
       {{0, 1, 2}}},
      {"IPv4 ID wraps",
       [&] {
         std::vector<Spec> v;
         for (int i = 0; i < 3; ++i)
           v.push_back(with(seg(0, i), [i](Spec& s) { s.id = static_cast<uint16_t>(0xffff + i); }));
         return v;
       },
       {{0, 1, 2}}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    check_groups(build(c.specs()), c.groups);
  }
}

TEST_CASE("the super-packet takes the last segment's window and PSH") {
  std::vector<Spec> specs = {seg(0, 0), seg(0, 1), seg(0, 2)};
  specs[0].window = 100;
  specs[1].window = 200;
  specs[2].window = 300;
  specs[2].flags = kAck | kPsh;
  const Packets writes = coalesce(build(specs));
  REQUIRE(writes.size() == 1);
  const size_t th = kVirtioNetHdrSize + 20;
  CHECK(get16(writes[0], th + 14) == 300);
  CHECK(writes[0][th + 13] == (kAck | kPsh));
  // Split back, every segment carries the last window.
  for (auto& s : specs) s.window = 300;
  specs[0].flags = specs[1].flags = kAck;
  CHECK(split_write(writes[0]) == build(specs));
}

TEST_CASE("super-packets stay within 65535 bytes") {
  for (const bool v6 : {false, true}) {
    CAPTURE(v6);
    std::vector<Spec> specs;
    for (int i = 0; i < 100; ++i) specs.push_back(seg(0, i, v6, 1400));
    const Packets pkts = build(specs);
    const Packets writes = coalesce(pkts);
    // (65535 - 40) / 1400 = 46 segments fit in one super-packet.
    REQUIRE(writes.size() == 3);
    Packets back;
    for (const auto& w : writes) {
      CHECK(w.size() - kVirtioNetHdrSize <= 65535);
      for (auto& p : split_write(w)) back.push_back(std::move(p));
    }
    CHECK(split_write(writes[0]).size() == 46);
    CHECK(back == pkts);
  }
}

TEST_CASE("malformed and non-TCP packets pass through alone, unchanged, in order") {
  const std::vector<uint8_t> good0 = make_packet(seg(0, 0));
  const std::vector<uint8_t> good1 = make_packet(seg(0, 1));
  std::vector<uint8_t> v6_ext = make_packet(seg(1, 0, true));
  v6_ext[6] = 0;  // hop-by-hop: the TCP header is not reachable
  std::vector<uint8_t> frag = make_packet(seg(2, 0));
  frag[6] |= 0x20;  // more fragments
  std::vector<uint8_t> padded = make_packet(seg(0, 1));
  padded.push_back(0);  // bytes beyond the IPv4 total length
  std::vector<uint8_t> ihl_small = good1;
  ihl_small[0] = 0x44;
  std::vector<uint8_t> doff_small = good1;
  doff_small[20 + 12] = 0x40;
  std::vector<uint8_t> doff_big = good1;
  doff_big[20 + 12] = 0xf0;
  const std::vector<std::vector<uint8_t>> odd = {
      {},
      {0x45},
      {0x60, 0, 0},
      truncated(good1, 19),
      truncated(good1, 39),
      truncated(good1, 500),
      truncated(make_packet(seg(0, 1, true)), 59),
      ihl_small,
      doff_small,
      doff_big,
      {0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20},
      make_packet(spec_udp()),
      padded,
  };
  for (size_t i = 0; i < odd.size(); ++i) {
    CAPTURE(i);
    // Between two segments that would otherwise merge: only TCP of the same flow separates them.
    const Packets pkts = {good0, odd[i], good1};
    const Packets writes = coalesce(pkts);
    // The ones still readable as TCP of the same flow end its super-packet, as its order matters.
    const bool same_flow_tcp = i == 9 || i == 12;
    REQUIRE(writes.size() == (same_flow_tcp ? 3u : 2u));
    std::vector<uint8_t> alone(kVirtioNetHdrSize, 0);
    alone.insert(alone.end(), odd[i].begin(), odd[i].end());
    CHECK(writes[1] == alone);
  }
  SUBCASE("a packet whose TCP header cannot be reached flushes every open flow") {
    for (const auto& hidden : {v6_ext, frag}) {
      check_groups(
          {good0, make_packet(seg(3, 0, true)), hidden, good1, make_packet(seg(3, 1, true))},
          {{0}, {1}, {2}, {3}, {4}});
    }
  }
}

TEST_CASE("capacity below the documented size gives 0 writes") {
  const Packets pkts = build({seg(0, 0), seg(0, 1), spec_udp()});
  std::vector<std::span<const uint8_t>> spans(pkts.begin(), pkts.end());
  size_t total = 0;
  for (const auto& p : pkts) total += p.size() + kVirtioNetHdrSize;
  std::vector<uint8_t> out(total);
  std::vector<GroWrite> writes(3);
  CHECK(gro_coalesce(spans, out, writes) == 2);
  CHECK(gro_coalesce(spans, std::span(out).first(total - 1), writes) == 0);
  CHECK(gro_coalesce(spans, out, std::span(writes).first(2)) == 0);
  CHECK(gro_coalesce({}, {}, {}) == 0);
}

TEST_CASE("more packets than one run") {
  // Two flows alternating, 3 * kGroMaxRun packets: super-packets never span runs.
  std::vector<Spec> specs;
  for (int i = 0; i < static_cast<int>(3 * kGroMaxRun / 2); ++i) {
    specs.push_back(seg(0, i, false, 200));
    specs.push_back(seg(1, i, true, 200));
  }
  const Packets pkts = build(specs);
  const Packets writes = coalesce(pkts);
  CHECK(writes.size() == 6);
  Packets back;
  for (const auto& w : writes) {
    for (auto& p : split_write(w)) back.push_back(std::move(p));
  }
  // Per flow, in order.
  Packets want;
  for (size_t run = 0; run < 3; ++run) {
    for (int f = 0; f < 2; ++f) {
      for (size_t i = run * kGroMaxRun + f; i < (run + 1) * kGroMaxRun; i += 2)
        want.push_back(pkts[i]);
    }
  }
  CHECK(back == want);
}

TEST_CASE("round trip: random flows -> gro_coalesce -> gso_split gives the packets back") {
  std::mt19937 rng(2024);
  size_t merged_writes = 0, total_packets = 0, total_writes = 0;
  for (int iter = 0; iter < 400; ++iter) {
    CAPTURE(iter);
    const int flows = 1 + static_cast<int>(rng() % 6);
    std::vector<std::vector<std::vector<uint8_t>>> per_flow(flows);
    for (int f = 0; f < flows; ++f) {
      Spec s;
      s.v6 = rng() & 1;
      s.sport = static_cast<uint16_t>(1000 + f);
      s.dport = static_cast<uint16_t>(rng() % 3);  // some flows share ports; addresses differ by f
      s.src = static_cast<uint8_t>(f);
      s.seq = static_cast<uint32_t>(rng());
      s.ack = static_cast<uint32_t>(rng());
      s.id = static_cast<uint16_t>(rng());
      s.df = rng() & 1;
      s.salt = static_cast<uint8_t>(rng());
      if (rng() & 1) s.tcp_options = {1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8};
      const size_t mss = 1 + rng() % 1400;
      const int n = static_cast<int>(rng() % 40);
      for (int i = 0; i < n; ++i) {
        Spec p = s;
        const unsigned r = rng() % 100;
        p.payload = r < 80 ? mss : rng() % (mss + 1);
        p.flags = r < 90 ? kAck : r < 95 ? kAck | kPsh : kAck | kFin;
        p.bad_l4_csum = r == 99 || r == 98;
        if (r == 97) p.seq += 1;  // a hole
        per_flow[f].push_back(make_packet(p));
        s.seq = p.seq + static_cast<uint32_t>(p.payload);
        s.id = static_cast<uint16_t>(s.id + 1);
      }
    }
    // Interleave, keeping each flow's order.
    Packets pkts;
    std::vector<int> owner;
    std::vector<size_t> next(flows, 0);
    for (;;) {
      std::vector<int> live;
      for (int f = 0; f < flows; ++f) {
        if (next[f] < per_flow[f].size()) live.push_back(f);
      }
      if (live.empty()) break;
      const int f = live[rng() % live.size()];
      pkts.push_back(per_flow[f][next[f]++]);
      owner.push_back(f);
    }
    const Packets writes = coalesce(pkts);
    std::vector<std::vector<std::vector<uint8_t>>> got(flows);
    size_t back_count = 0;
    for (const auto& w : writes) {
      const Packets segs = split_write(w);
      if (header_of(w).gso_type != 0) ++merged_writes;
      for (const auto& seg : segs) {
        // Find the flow by source address byte and source port.
        const bool v6 = seg[0] >> 4 == 6;
        const int f = get16(seg, v6 ? 40 : 20) - 1000;
        REQUIRE(f >= 0);
        REQUIRE(f < flows);
        got[f].push_back(seg);
        ++back_count;
      }
      if (header_of(w).gso_type == 0) {
        // Passed through: split copies it unchanged.
        CHECK(segs.size() == 1);
      }
    }
    CHECK(back_count == pkts.size());
    for (int f = 0; f < flows; ++f) CHECK(got[f] == per_flow[f]);
    total_packets += pkts.size();
    total_writes += writes.size();
  }
  MESSAGE(total_packets << " packets became " << total_writes << " writes, " << merged_writes
                        << " of them super-packets");
  CHECK(total_writes < total_packets / 3);
}
