// Fuzzer for the TUN offload functions, checked against the naive checksum in support/packets.h.
// First byte picks the target:
//  - even: gso_split on the rest as a TUN read (optionally with the IP length field patched
//    to match, so the fuzzer gets past it). Accepted reads must give well-formed packets with
//    valid checksums whose payloads, concatenated, are the input's.
//  - odd: gro_coalesce on a list of packets, raw or TCP segments of a few flows built from the
//    input. Every write split back with gso_split must give the input packets, each once, with
//    each flow's order kept; only packets with valid checksums may be merged.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "dataplane/gro_coalesce.h"
#include "dataplane/gso_split.h"
#include "dataplane/virtio_net_hdr.h"
#include "support/fuzz_reader.h"
#include "support/packets.h"

namespace {

using namespace qvpn::dataplane;
using namespace qvpn::test;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_offload: %s\n", what);
  std::abort();
}
#define CHECK_OR_TRAP(cond)   \
  do {                        \
    if (!(cond)) fail(#cond); \
  } while (0)

struct Parsed {
  bool v6;
  size_t iph;
  size_t l4h;
  uint8_t proto;
};

// A complete IPv4/IPv6 TCP/UDP packet with valid checksums (IPv6 without extension headers).
bool well_formed(std::span<const uint8_t> pkt, Parsed& out) {
  if (pkt.size() < 20) return false;
  const uint8_t* p = pkt.data();
  out.v6 = p[0] >> 4 == 6;
  if (out.v6) {
    if (pkt.size() < 40 || get16(p + 4) + size_t{40} != pkt.size()) return false;
    out.iph = 40;
    out.proto = p[6];
  } else {
    if (p[0] >> 4 != 4) return false;
    out.iph = size_t{p[0] & 0x0fu} * 4;
    if (out.iph < 20 || out.iph > pkt.size() || get16(p + 2) != pkt.size()) return false;
    if ((get16(p + 6) & 0x3fff) != 0 || ref_sum(p, out.iph) != 0xffff) return false;
    out.proto = p[9];
  }
  const size_t l4_len = pkt.size() - out.iph;
  if (out.proto == 6) {
    if (l4_len < 20) return false;
    out.l4h = size_t{p[out.iph + 12]} / 16 * 4;
    if (out.l4h < 20 || out.l4h > l4_len) return false;
  } else if (out.proto == 17) {
    out.l4h = 8;
    if (l4_len < 8 || get16(p + out.iph + 4) != l4_len || get16(p + out.iph + 6) == 0) return false;
  } else {
    return false;
  }
  return ref_sum(p + out.iph, l4_len, ref_pseudo_sum(p, out.v6, out.proto, l4_len)) == 0xffff;
}

void fuzz_split(FuzzReader& in) {
  uint8_t opts = in.byte();
  const size_t stride = 1 + in.take(2) % 4096;
  const size_t max_segs = in.byte() % 80;
  const std::span<const uint8_t> raw = in.bytes(70000);
  std::vector<uint8_t> read(raw.begin(), raw.end());
  // Optionally shape the read into a plausible super-packet: a GSO type, the IP version and
  // protocol it needs, a sane TCP data offset; then make the IP length agree with the buffer.
  if ((opts & 2) && read.size() >= kVirtioNetHdrSize + 60) {
    static constexpr uint8_t kTypes[] = {kVirtioNetHdrGsoTcpv4, kVirtioNetHdrGsoTcpv6,
                                         kVirtioNetHdrGsoUdpL4, kVirtioNetHdrGsoUdpL4,
                                         kVirtioNetHdrGsoTcpv4 | kVirtioNetHdrGsoEcn};
    const uint8_t type = kTypes[(opts >> 2) % 5];
    const bool v6 =
        type == kVirtioNetHdrGsoTcpv6 || (type == kVirtioNetHdrGsoUdpL4 && (opts & 0x80));
    const bool tcp = type != kVirtioNetHdrGsoUdpL4;
    read[1] = type;
    uint8_t* ip = read.data() + kVirtioNetHdrSize;
    if (v6) {
      ip[0] = static_cast<uint8_t>(0x60 | (ip[0] & 0x0f));
      ip[6] = tcp ? 6 : 17;
    } else {
      ip[0] = (opts & 0x40) ? static_cast<uint8_t>(0x40 | (ip[0] & 0x0f)) : 0x45;
      ip[9] = tcp ? 6 : 17;
      ip[6] &= 0x40;  // no fragments
      ip[7] = 0;
    }
    const size_t iph = v6 ? 40 : size_t{ip[0] & 0x0fu} * 4;
    if (tcp && iph >= 20 && read.size() >= kVirtioNetHdrSize + iph + 20 && (opts & 0x20) == 0) {
      ip[iph + 12] = static_cast<uint8_t>(0x50 + (ip[iph + 12] & 0x3f) % 0x30 / 16 * 16);
    }
    opts |= 1;
  }
  if ((opts & 1) && read.size() >= kVirtioNetHdrSize + 40) {
    uint8_t* ip = read.data() + kVirtioNetHdrSize;
    const size_t len = std::min<size_t>(read.size() - kVirtioNetHdrSize, 65535);
    if (ip[0] >> 4 == 6)
      put16(ip + 4, static_cast<uint16_t>(std::max<size_t>(len, 40) - 40));
    else
      put16(ip + 2, static_cast<uint16_t>(len));
  }
  static std::vector<uint8_t> out_buf(4096 * 80);  // reused: large allocations slow ASan down
  const std::span<uint8_t> out(out_buf.data(), stride * std::max<size_t>(max_segs, 1));
  std::vector<uint16_t> sizes(max_segs);
  const size_t n = gso_split(read, out, stride, sizes);
  if (n == 0) return;
  CHECK_OR_TRAP(n <= max_segs);
  const VirtioNetHdr h = read_virtio_net_hdr(
      std::span<const uint8_t, kVirtioNetHdrSize>(read.data(), kVirtioNetHdrSize));
  const std::span<const uint8_t> pkt = std::span<const uint8_t>(read).subspan(kVirtioNetHdrSize);
  if (h.gso_type == kVirtioNetHdrGsoNone) {
    CHECK_OR_TRAP(n == 1 && sizes[0] == pkt.size());
    const uint8_t* seg = out.data();
    if (!(h.flags & kVirtioNetHdrFNeedsCsum)) {
      CHECK_OR_TRAP(std::memcmp(seg, pkt.data(), pkt.size()) == 0);
      return;
    }
    const size_t field = size_t{h.csum_start} + h.csum_offset;
    CHECK_OR_TRAP(field + 2 <= pkt.size());
    for (size_t i = 0; i < pkt.size(); ++i)
      CHECK_OR_TRAP(i == field || i == field + 1 || seg[i] == pkt[i]);
    if (h.csum_offset % 2 == 0) {
      // The field held the pseudo-header sum: with it, the completed region sums to 0xffff.
      const uint32_t partial = get16(pkt.data() + field);
      const uint32_t s = ref_sum(seg + h.csum_start, pkt.size() - h.csum_start, partial);
      CHECK_OR_TRAP(s == 0xffff);
    }
    return;
  }
  // GSO: well-formed segments whose payloads concatenate to the input's.
  Parsed first;
  size_t offset = 0;
  Parsed in_parsed;
  const bool in_v6 = pkt[0] >> 4 == 6;
  in_parsed.iph = in_v6 ? 40 : size_t{pkt[0] & 0x0fu} * 4;
  const size_t in_len = in_v6 ? 40 + get16(pkt.data() + 4) : get16(pkt.data() + 2);
  const uint8_t proto = in_v6 ? pkt[6] : pkt[9];
  in_parsed.l4h = proto == 6 ? size_t{pkt[in_parsed.iph + 12]} / 16 * 4 : 8;
  const size_t in_headers = in_parsed.iph + in_parsed.l4h;
  for (size_t i = 0; i < n; ++i) {
    const std::span<const uint8_t> seg(out.data() + i * stride, sizes[i]);
    CHECK_OR_TRAP(sizes[i] <= stride);
    Parsed p;
    CHECK_OR_TRAP(well_formed(seg, p));
    if (i == 0) first = p;
    CHECK_OR_TRAP(p.v6 == first.v6 && p.iph == in_parsed.iph && p.l4h == in_parsed.l4h &&
                  p.proto == proto);
    const size_t payload = seg.size() - p.iph - p.l4h;
    CHECK_OR_TRAP(payload > 0 && payload <= h.gso_size);
    CHECK_OR_TRAP(i + 1 == n || payload == h.gso_size);
    CHECK_OR_TRAP(in_headers + offset + payload <= in_len);
    CHECK_OR_TRAP(
        std::memcmp(seg.data() + p.iph + p.l4h, pkt.data() + in_headers + offset, payload) == 0);
    offset += payload;
  }
  CHECK_OR_TRAP(in_headers + offset == in_len);
}

// ---- gro_coalesce ----

struct Flow {
  bool v6;
  uint8_t addr;
  uint16_t sport, dport;
  uint32_t seq, ack;
  uint16_t id, window;
  uint16_t mss;
  uint8_t options;  // 0, 4 or 12 bytes
  uint32_t prev_seq;
};

std::vector<uint8_t> tcp_segment(Flow& f, FuzzReader& in) {
  const uint8_t m = in.byte();
  uint32_t seq = f.seq;
  if ((m & 3) == 2) seq += 1;
  if ((m & 3) == 3) seq = f.prev_seq;
  size_t payload = f.mss;
  if ((m >> 2 & 3) == 2) payload = in.byte() % (f.mss + 1);
  if ((m >> 2 & 3) == 3) payload = 0;
  uint8_t flags = 0x10;
  if ((m >> 4 & 3) == 2) flags = 0x18;
  if ((m >> 4 & 3) == 3) flags = in.byte();
  const size_t iph = f.v6 ? 40 : 20;
  const size_t th = 20 + f.options;
  std::vector<uint8_t> b(iph + th + payload);
  uint8_t* p = b.data();
  uint8_t ttl = 64, tos = 0;
  uint16_t window = f.window, id = f.id;
  uint32_t ack = f.ack;
  bool df = true, bad = false;
  uint8_t option_byte = 5;
  if (m & 0x80) {
    const uint8_t what = in.byte();
    switch (what % 8) {
      case 0:
        ttl = 63;
        break;
      case 1:
        tos = 1;
        break;
      case 2:
        window = static_cast<uint16_t>(in.take(2));
        break;
      case 3:
        ack += 1;
        break;
      case 4:
        id = static_cast<uint16_t>(in.take(2));
        break;
      case 5:
        df = false;
        break;
      case 6:
        option_byte = 6;
        break;
      default:
        bad = true;
        break;
    }
  }
  if (f.v6) {
    p[0] = 0x60;
    p[1] = static_cast<uint8_t>(tos << 4);
    put16(p + 4, static_cast<uint16_t>(th + payload));
    p[6] = 6;
    p[7] = ttl;
    p[23] = f.addr;
    p[39] = 0x99;
  } else {
    p[0] = 0x45;
    p[1] = tos;
    put16(p + 2, static_cast<uint16_t>(b.size()));
    put16(p + 4, id);
    put16(p + 6, df ? 0x4000 : 0);
    p[8] = ttl;
    p[9] = 6;
    p[12] = 10, p[15] = f.addr, p[16] = 10, p[19] = 0x99;
    put16(p + 10, static_cast<uint16_t>(~ref_sum(p, 20)));
  }
  uint8_t* t = p + iph;
  put16(t, f.sport);
  put16(t + 2, f.dport);
  put16(t + 4, static_cast<uint16_t>(seq >> 16));
  put16(t + 6, static_cast<uint16_t>(seq));
  put16(t + 8, static_cast<uint16_t>(ack >> 16));
  put16(t + 10, static_cast<uint16_t>(ack));
  t[12] = static_cast<uint8_t>(th / 4 << 4);
  t[13] = flags;
  put16(t + 14, window);
  for (size_t i = 20; i < th; ++i) t[i] = i < 22 ? 1 : option_byte;
  for (size_t i = 0; i < payload; ++i) t[th + i] = static_cast<uint8_t>((seq + i) * 13);
  uint16_t c =
      static_cast<uint16_t>(~ref_sum(t, th + payload, ref_pseudo_sum(p, f.v6, 6, th + payload)));
  if (bad) c ^= 1;
  put16(t + 16, c);
  f.prev_seq = seq;
  f.seq = seq + static_cast<uint32_t>(payload);
  f.id = static_cast<uint16_t>(f.id + 1);
  return b;
}

// Equal, or equal but for what coalescing may change in a merged segment: the window (the
// super-packet carries the last one), the IPv4 ID (all-equal IDs with DF come back
// incrementing), and so both checksums.
bool same_segment(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  Parsed pa;
  if (!well_formed(a, pa) || pa.proto != 6) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] == b[i]) continue;
    if (!pa.v6 && (i == 4 || i == 5 || i == 10 || i == 11)) continue;
    if (i >= pa.iph + 14 && i < pa.iph + 18) continue;
    return false;
  }
  return true;
}

// The flow of a TCP packet as the index of its first packet with the same addresses and ports,
// or -1 if it is not readable as TCP.
std::vector<int> flows_of(const std::vector<std::vector<uint8_t>>& pkts) {
  std::vector<int> flow(pkts.size(), -1);
  auto key = [](const std::vector<uint8_t>& p, std::vector<uint8_t>& k) {
    k.clear();
    if (p.size() < 20) return false;
    size_t iph;
    if (p[0] >> 4 == 4) {
      iph = size_t{p[0] & 0x0fu} * 4;
      if (p[9] != 6 || iph < 20) return false;
      k.assign(p.begin() + 12, p.begin() + 20);
    } else if (p[0] >> 4 == 6) {
      if (p.size() < 40 || p[6] != 6) return false;
      iph = 40;
      k.assign(p.begin() + 8, p.begin() + 40);
    } else {
      return false;
    }
    if (p.size() < iph + 4) return false;
    k.push_back(p[0] >> 4);
    k.insert(k.end(), p.begin() + iph, p.begin() + iph + 4);
    return true;
  };
  std::vector<uint8_t> ki, kj;
  for (size_t i = 0; i < pkts.size(); ++i) {
    if (!key(pkts[i], ki)) continue;
    flow[i] = static_cast<int>(i);
    for (size_t j = 0; j < i; ++j) {
      if (flow[j] == static_cast<int>(j) && key(pkts[j], kj) && ki == kj) {
        flow[i] = static_cast<int>(j);
        break;
      }
    }
  }
  return flow;
}

void fuzz_coalesce(FuzzReader& in) {
  Flow flows[4];
  const uint8_t v6_bits = in.byte();
  for (int f = 0; f < 4; ++f) {
    Flow& fl = flows[f];
    fl.v6 = (v6_bits >> f) & 1;
    fl.addr = static_cast<uint8_t>(f);
    fl.sport = static_cast<uint16_t>(1000 + f % 2);  // flows 0/2 and 1/3 share ports
    fl.dport = 80;
    fl.seq = in.take(4);
    fl.prev_seq = fl.seq;
    fl.ack = 77;
    fl.id = static_cast<uint16_t>(in.take(2));
    fl.window = 1000;
    fl.mss = static_cast<uint16_t>(1 + in.take(2) % 1400);
    fl.options = (v6_bits >> (4 + f % 2) & 1) ? 12 : 0;
  }
  const size_t count = in.byte() % 48;
  std::vector<std::vector<uint8_t>> pkts;
  for (size_t i = 0; i < count && !in.empty(); ++i) {
    const uint8_t kind = in.byte();
    if (kind < 40) {
      const auto raw = in.bytes(in.byte());
      pkts.emplace_back(raw.begin(), raw.end());
    } else {
      pkts.push_back(tcp_segment(flows[kind % 4], in));
    }
  }
  const Coalesced coalesced = coalesce_all(pkts);
  const std::vector<uint8_t>& out = coalesced.out;
  const std::vector<GroWrite>& writes = coalesced.writes;
  const size_t n = writes.size();
  CHECK_OR_TRAP(n <= pkts.size());
  CHECK_OR_TRAP(n > 0 || pkts.empty());

  const std::vector<int> flow = flows_of(pkts);
  std::vector<bool> matched(pkts.size(), false);
  std::vector<int> last_in_flow(pkts.size(), -1);  // by flow id: latest matched input index
  static std::vector<uint8_t> seg_buf(64 * 2048);
  std::array<uint16_t, 64> sizes{};
  size_t matched_count = 0;
  int prev_head = -1;
  auto match = [&](std::span<const uint8_t> seg, bool exact) {
    for (size_t j = 0; j < pkts.size(); ++j) {
      if (matched[j]) continue;
      const bool same = exact ? (seg.size() == pkts[j].size() &&
                                 std::equal(seg.begin(), seg.end(), pkts[j].begin()))
                              : same_segment(seg, pkts[j]) && same_segment(pkts[j], pkts[j]);
      if (!same) continue;
      matched[j] = true;
      ++matched_count;
      if (flow[j] >= 0) {
        CHECK_OR_TRAP(last_in_flow[flow[j]] < static_cast<int>(j));  // per-flow order
        last_in_flow[flow[j]] = static_cast<int>(j);
      }
      return static_cast<int>(j);
    }
    fail(exact ? "a write matches no input packet" : "a segment matches no mergeable input");
  };
  for (size_t w = 0; w < n; ++w) {
    const GroWrite& gw = writes[w];
    CHECK_OR_TRAP(gw.len >= kVirtioNetHdrSize);
    CHECK_OR_TRAP(gw.data >= out.data() && gw.data + gw.len <= out.data() + out.size());
    const VirtioNetHdr h = read_virtio_net_hdr(
        std::span<const uint8_t, kVirtioNetHdrSize>(gw.data, kVirtioNetHdrSize));
    const std::span<const uint8_t> body(gw.data + kVirtioNetHdrSize, gw.len - kVirtioNetHdrSize);
    int head;
    if (h.gso_type == kVirtioNetHdrGsoNone) {
      CHECK_OR_TRAP(h.flags == 0 && h.hdr_len == 0 && h.gso_size == 0 && h.csum_start == 0 &&
                    h.csum_offset == 0);
      head = match(body, true);
    } else {
      CHECK_OR_TRAP(h.flags == kVirtioNetHdrFNeedsCsum && h.csum_offset == 16);
      CHECK_OR_TRAP(body.size() <= 65535);
      const size_t segs = gso_split({gw.data, gw.len}, seg_buf, 2048, sizes);
      CHECK_OR_TRAP(segs >= 2);
      head = -1;
      for (size_t s = 0; s < segs; ++s) {
        const int j = match({seg_buf.data() + s * 2048, sizes[s]}, false);
        if (s == 0) head = j;
      }
    }
    CHECK_OR_TRAP(head > prev_head);  // writes in the order of their first packet
    prev_head = head;
  }
  CHECK_OR_TRAP(matched_count == pkts.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzReader in({data, size});
  if (in.byte() % 2 == 0) {
    fuzz_split(in);
  } else {
    fuzz_coalesce(in);
  }
  return 0;
}
