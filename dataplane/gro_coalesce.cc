#include "dataplane/gro_coalesce.h"

#include <algorithm>
#include <cstring>

#include "dataplane/inet_checksum.h"
#include "dataplane/ip_header.h"
#include "dataplane/virtio_net_hdr.h"

namespace qvpn::dataplane {

// Per run of packets: (1) classify each packet and decide, in order, whether it joins the open
// super-packet of its flow, starts one, or is written alone; (2) build the writes in the order
// of their first packet. Deciding first means each write's size is known before it is copied,
// so every byte is copied once, and every TCP checksum is verified at most once (and only
// when a packet would otherwise be joined).

namespace {

using namespace ip_internal;

constexpr uint16_t kNone = 0xffff;
constexpr size_t kMaxPacket = 0xffff;
constexpr uint8_t kTcpAck = 0x10;
constexpr uint8_t kTcpPsh = 0x08;
constexpr uint16_t kIpv4Df = 0x4000;

inline uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

enum class Kind : uint8_t {
  kAlone,   // not TCP, or malformed: written alone, no flow
  kTcp,     // TCP with a reachable header: belongs to a flow
  kHidden,  // may be TCP of any flow but its header cannot be reached (fragment, extension header)
};

// A TCP packet's layout. Valid when classify() returned kTcp.
struct Tcp {
  const uint8_t* p = nullptr;
  size_t len = 0;
  size_t iph = 0;  // IP header length
  size_t th = 0;   // TCP header length
  bool v6 = false;
  // IP and TCP headers that coalescing accepts: no IP options, no trailing bytes, payload > 0,
  // flags ACK or ACK|PSH. Checksums are not checked yet.
  bool eligible = false;

  const uint8_t* tcp() const { return p + iph; }
  size_t payload() const { return len - iph - th; }
  uint8_t flags() const { return tcp()[13]; }
  uint32_t seq() const { return load32(tcp() + 4); }
  // Addresses as they lie in the IP header (also the pseudo-header's).
  const uint8_t* addrs() const { return p + (v6 ? 8 : 12); }
  size_t addrs_len() const { return v6 ? 32 : 8; }
};

bool is_ipv6_extension(uint8_t next_header) {
  switch (next_header) {
    case 0:
    case 43:
    case 44:
    case 50:
    case 51:
    case 60:
    case 135:
    case 139:
    case 140:
    case 253:
    case 254:
      return true;
    default:
      return false;
  }
}

Kind classify(std::span<const uint8_t> pkt, Tcp& t) {
  IpInfo ip;
  if (!parse_ip(pkt, ip)) return Kind::kAlone;
  // A fragment or an extension header may hide the TCP header of any flow.
  if (ip.v6 ? is_ipv6_extension(ip.protocol) : (ip.protocol == kProtoTcp && ip.fragment)) {
    return Kind::kHidden;
  }
  if (ip.protocol != kProtoTcp) return Kind::kAlone;
  const uint8_t* p = pkt.data();
  const size_t ip_len = ip.packet_len;
  t.iph = ip.header_len;
  t.v6 = ip.v6;
  if (ip_len < t.iph + kTcpMinHeader) return Kind::kAlone;
  t.th = size_t{p[t.iph + 12]} / 16 * 4;
  if (t.th < kTcpMinHeader || ip_len < t.iph + t.th) return Kind::kAlone;
  t.p = p;
  t.len = ip_len;
  const uint8_t flags = p[t.iph + 13];
  t.eligible = ip_len == pkt.size() && (t.v6 || t.iph == kIpv4MinHeader) && t.payload() > 0 &&
               (flags == kTcpAck || flags == (kTcpAck | kTcpPsh));
  return Kind::kTcp;
}

// The IPv4 header checksum (if any) and the TCP checksum both verify.
bool checksums_valid(const Tcp& t) {
  if (!t.v6 && checksum_fold(checksum_add({t.p, t.iph})) != 0xffff) return false;
  const uint32_t tcp_len = static_cast<uint32_t>(t.len - t.iph);
  const uint64_t pseudo =
      t.v6 ? pseudo_header_sum_ipv6(std::span<const uint8_t, 32>(t.addrs(), 32), kProtoTcp, tcp_len)
           : pseudo_header_sum_ipv4(std::span<const uint8_t, 8>(t.addrs(), 8), kProtoTcp, tcp_len);
  return checksum_fold(checksum_add({t.tcp(), tcp_len}, pseudo)) == 0xffff;
}

uint32_t flow_hash(const Tcp& t) {
  const uint8_t* a = t.addrs();
  uint64_t h = load32(t.tcp()) ^ (t.v6 ? 0x6a09e667f3bcc908ull : 0);
  for (size_t i = 0; i < t.addrs_len(); i += 8) {
    h = (h ^ load64(a + i)) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 32;
  }
  return static_cast<uint32_t>(h);
}

bool same_flow(const Tcp& a, const Tcp& b) {
  return a.v6 == b.v6 && std::memcmp(a.addrs(), b.addrs(), a.addrs_len()) == 0 &&
         std::memcmp(a.tcp(), b.tcp(), 4) == 0;
}

struct PacketState {
  uint16_t next;    // the next packet of the same write, or kNone
  int8_t verified;  // 0 not checked yet, 1 checksums good, -1 bad
};

enum class IdMode : uint8_t { kUndecided, kConsecutive, kFixed };

// One write: a single packet, or a super-packet being built.
struct Group {
  uint16_t head;
  uint16_t tail;
  uint16_t count;
  uint16_t gso_size;
  uint32_t next_seq;
  uint32_t total_len;  // of the IP super-packet
  uint16_t last_id;
  IdMode id_mode;
  bool open;  // more segments may join
};

struct Slot {
  uint16_t ref;    // a packet of the flow (for comparing keys), kNone if the slot is empty
  uint16_t group;  // the flow's latest group, kNone if none
  uint32_t hash;
};

class Run {
 public:
  explicit Run(std::span<const std::span<const uint8_t>> packets) : packets_(packets) {
    table_size_ = 8;
    while (table_size_ < 2 * packets.size()) table_size_ *= 2;
    for (size_t i = 0; i < table_size_; ++i) table_[i] = {kNone, kNone, 0};
  }

  void decide() {
    for (size_t i = 0; i < packets_.size(); ++i) {
      const uint16_t idx = static_cast<uint16_t>(i);
      state_[i] = {kNone, 0};
      Tcp t;
      const Kind kind = classify(packets_[i], t);
      if (kind == Kind::kHidden) close_all();
      if (kind != Kind::kTcp) {
        start_group(idx, false, t);
        continue;
      }
      Slot& slot = find_slot(t, idx);
      if (slot.group != kNone && groups_[slot.group].open) {
        if (try_join(groups_[slot.group], idx, t)) continue;
        groups_[slot.group].open = false;
      }
      const bool can_head = t.eligible && t.flags() == kTcpAck && state_[i].verified >= 0;
      slot.group = start_group(idx, can_head, t);
    }
  }

  // Builds the writes at out[cursor...] and writes[count...]; the caller checked capacity.
  void emit(std::span<uint8_t> out, size_t& cursor, std::span<GroWrite> writes,
            size_t& count) const {
    for (size_t g = 0; g < group_count_; ++g) {
      uint8_t* w = out.data() + cursor;
      const size_t len =
          groups_[g].count == 1 ? emit_single(groups_[g], w) : emit_super(groups_[g], w);
      writes[count++] = {w, len};
      cursor += len;
    }
  }

 private:
  Slot& find_slot(const Tcp& t, uint16_t idx) {
    const uint32_t hash = flow_hash(t);
    for (size_t s = hash & (table_size_ - 1);; s = (s + 1) & (table_size_ - 1)) {
      Slot& slot = table_[s];
      if (slot.ref == kNone) {
        slot = {idx, kNone, hash};
        return slot;
      }
      if (slot.hash == hash) {
        Tcp other;
        classify(packets_[slot.ref], other);
        if (same_flow(t, other)) return slot;
      }
    }
  }

  uint16_t start_group(uint16_t idx, bool open, const Tcp& t) {
    Group& g = groups_[group_count_];
    g = {idx, idx, 1, 0, 0, 0, 0, IdMode::kUndecided, open};
    if (open) {
      g.gso_size = static_cast<uint16_t>(t.payload());
      g.next_seq = t.seq() + static_cast<uint32_t>(t.payload());
      g.total_len = static_cast<uint32_t>(t.len);
      g.last_id = t.v6 ? 0 : load16(t.p + 4);
    }
    return static_cast<uint16_t>(group_count_++);
  }

  void close_all() {
    for (size_t g = first_open_; g < group_count_; ++g) groups_[g].open = false;
    first_open_ = group_count_;
  }

  bool verified(uint16_t idx, const Tcp& t) {
    if (state_[idx].verified == 0) state_[idx].verified = checksums_valid(t) ? 1 : -1;
    return state_[idx].verified > 0;
  }

  // Appends packet idx to the open group g if Linux GRO would, and closes g if idx ends it.
  bool try_join(Group& g, uint16_t idx, const Tcp& t) {
    if (!t.eligible) return false;
    Tcp head;
    classify(packets_[g.head], head);
    const uint8_t* p = t.p;
    const uint8_t* h = head.p;
    IdMode id_mode = g.id_mode;
    uint16_t id = 0;
    if (t.v6) {
      if (std::memcmp(p, h, 4) != 0 || p[7] != h[7]) return false;  // class, label, hops
    } else {
      if (p[1] != h[1] || p[8] != h[8] || load16(p + 6) != load16(h + 6)) return false;
      id = load16(p + 4);
      const bool next = id == static_cast<uint16_t>(g.last_id + 1);
      const bool same = id == g.last_id && (load16(p + 6) & kIpv4Df) != 0;
      if (id_mode == IdMode::kUndecided) {
        if (!next && !same) return false;
        id_mode = next ? IdMode::kConsecutive : IdMode::kFixed;
      } else if (!(id_mode == IdMode::kConsecutive ? next : same)) {
        return false;
      }
    }
    const uint8_t* tt = t.tcp();
    const uint8_t* ht = head.tcp();
    if (t.th != head.th || tt[12] != ht[12] || std::memcmp(tt + 8, ht + 8, 4) != 0 ||  // ack
        std::memcmp(tt + kTcpMinHeader, ht + kTcpMinHeader, t.th - kTcpMinHeader) != 0) {
      return false;
    }
    const size_t payload = t.payload();
    if (t.seq() != g.next_seq || payload > g.gso_size || g.total_len + payload > kMaxPacket) {
      return false;
    }
    if (!verified(idx, t)) return false;
    if (g.count == 1 && !verified(g.head, head)) return false;

    state_[g.tail].next = idx;
    g.tail = idx;
    ++g.count;
    g.total_len += static_cast<uint32_t>(payload);
    g.next_seq += static_cast<uint32_t>(payload);
    g.last_id = id;
    g.id_mode = id_mode;
    if (payload < g.gso_size || (t.flags() & kTcpPsh) != 0) g.open = false;
    return true;
  }

  size_t emit_single(const Group& g, uint8_t* w) const {
    const std::span<const uint8_t> pkt = packets_[g.head];
    std::memset(w, 0, kVirtioNetHdrSize);
    if (!pkt.empty()) std::memcpy(w + kVirtioNetHdrSize, pkt.data(), pkt.size());
    return kVirtioNetHdrSize + pkt.size();
  }

  size_t emit_super(const Group& g, uint8_t* w) const {
    Tcp head, tail;
    classify(packets_[g.head], head);
    classify(packets_[g.tail], tail);
    uint8_t* ip = w + kVirtioNetHdrSize;
    std::memcpy(ip, head.p, head.len);
    size_t len = head.len;
    for (uint16_t m = state_[g.head].next; m != kNone; m = state_[m].next) {
      Tcp t;
      classify(packets_[m], t);
      const size_t headers = t.iph + t.th;
      std::memcpy(ip + len, t.p + headers, t.len - headers);
      len += t.len - headers;
    }
    const size_t iph = head.iph;
    uint8_t* th = ip + iph;
    if (head.v6) {
      store16(ip + 4, static_cast<uint16_t>(len - iph));
    } else {
      store16(ip + 2, static_cast<uint16_t>(len));
      store16(ip + 10, 0);
      store16(ip + 10, checksum_finish(checksum_add({ip, iph})));
    }
    th[13] = tail.flags();
    std::memcpy(th + 14, tail.tcp() + 14, 2);  // window
    const uint32_t tcp_len = static_cast<uint32_t>(len - iph);
    const uint64_t pseudo =
        head.v6
            ? pseudo_header_sum_ipv6(std::span<const uint8_t, 32>(ip + 8, 32), kProtoTcp, tcp_len)
            : pseudo_header_sum_ipv4(std::span<const uint8_t, 8>(ip + 12, 8), kProtoTcp, tcp_len);
    store16(th + 16, checksum_fold(pseudo));  // CHECKSUM_PARTIAL: folded, not complemented

    VirtioNetHdr h;
    h.flags = kVirtioNetHdrFNeedsCsum;
    h.gso_type = head.v6 ? kVirtioNetHdrGsoTcpv6 : kVirtioNetHdrGsoTcpv4;
    h.hdr_len = static_cast<uint16_t>(iph + head.th);
    h.gso_size = g.gso_size;
    h.csum_start = static_cast<uint16_t>(iph);
    h.csum_offset = 16;
    write_virtio_net_hdr(h, std::span<uint8_t, kVirtioNetHdrSize>(w, kVirtioNetHdrSize));
    return kVirtioNetHdrSize + len;
  }

  std::span<const std::span<const uint8_t>> packets_;
  PacketState state_[kGroMaxRun];
  Group groups_[kGroMaxRun];
  size_t group_count_ = 0;
  size_t first_open_ = 0;  // groups before this one are closed
  Slot table_[2 * kGroMaxRun];
  size_t table_size_;
};

}  // namespace

size_t gro_coalesce(std::span<const std::span<const uint8_t>> packets, std::span<uint8_t> out,
                    std::span<GroWrite> writes) {
  if (writes.size() < packets.size()) return 0;
  size_t need = 0;
  for (const auto& p : packets) need += p.size() + kVirtioNetHdrSize;
  if (out.size() < need) return 0;
  size_t cursor = 0, count = 0;
  for (size_t base = 0; base < packets.size(); base += kGroMaxRun) {
    Run run(packets.subspan(base, std::min(kGroMaxRun, packets.size() - base)));
    run.decide();
    run.emit(out, cursor, writes, count);
  }
  return count;
}

}  // namespace qvpn::dataplane
