// The node's data path: batches from the TUN to the socket and from the socket to the TUN,
// and the Device's Sink. Runs on the node's Asio thread; the CryptoPool lends it other cores.
#include <fmt/core.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "core/node.h"
#include "dataplane/gso_split.h"
#include "dataplane/virtio_net_hdr.h"

namespace qvpn::core {
namespace {

// Bounds how long one readiness event may run, so the TUN and the socket take turns.
constexpr int kTunBurst = 256;
constexpr int kUdpBurst = 16;
// Receive buffers per recvmmsg; with UDP GRO each may hold up to 64 KiB of datagrams.
constexpr size_t kRxBuffers = 32;
// Outbound slots: enough for several 64 KiB TSO reads in MTU-sized segments, bounded in
// bytes for large MTUs.
constexpr size_t kMaxSlots = 1024;
constexpr size_t kMinSlots = 64;
constexpr size_t kSlotBytes = 4 << 20;
// Sealing starts before a TUN read could need more slots than are free (a 64 KiB TSO read
// in 536-byte segments); a read that needs even more seals first and retries.
constexpr size_t kSlotsPerRead = 128;
constexpr size_t kTunReadSize = dataplane::kVirtioNetHdrSize + 65535;

uint8_t* uninitialised(size_t n) { return new uint8_t[n]; }  // pages untouched until used

// WireGuard's four message types, then three zero bytes; disco and STUN never start so.
bool is_wireguard(std::span<const uint8_t> b) {
  return b.size() >= 4 && b[0] >= 1 && b[0] <= 4 && b[1] == 0 && b[2] == 0 && b[3] == 0;
}

}  // namespace

void Node::allocate_buffers() {
  rx_buffers_.reset(uninitialised(kRxBuffers * dataplane::kMaxMessageSize));
  rx_.resize(kRxBuffers);
  for (size_t i = 0; i < kRxBuffers; ++i) {
    rx_[i].buf = {rx_buffers_.get() + i * dataplane::kMaxMessageSize, dataplane::kMaxMessageSize};
  }
  if (tun_.offload()) tun_read_.reset(uninitialised(kTunReadSize));
  set_mtu(dataplane::kDefaultMtu);
}

// Outbound slots fit the MTU; called between batches only, when no slot is in use.
void Node::set_mtu(size_t mtu) {
  device_.set_mtu(mtu);
  if (mtu == mtu_) return;
  mtu_ = mtu;
  slot_stride_ = (dataplane::kBatchHeadroom + mtu + dataplane::kBatchTailroom + 63) / 64 * 64;
  slot_count_ = std::clamp(kSlotBytes / slot_stride_, kMinSlots, kMaxSlots);
  slots_.reset(uninitialised(slot_count_ * slot_stride_));
  segment_sizes_.resize(slot_count_);
  slots_used_ = 0;
  outbound_.clear();
}

void Node::drain_tun() {
  for (int i = 0; i < kTunBurst && read_tun_into_slots(); ++i) {
  }
  seal_slots();
  reschedule();
}

// Reads one TUN packet into the free slots, segmenting a TSO/USO super-packet. Returns false
// when there is nothing more to read.
bool Node::read_tun_into_slots() {
  if (slots_used_ + kSlotsPerRead > slot_count_) seal_slots();
  const size_t capacity = slot_stride_ - dataplane::kBatchHeadroom - dataplane::kBatchTailroom;
  auto first_free = [this] {
    return slots_.get() + slots_used_ * slot_stride_ + dataplane::kBatchHeadroom;
  };
  if (!tun_.offload()) {
    const ssize_t n = tun_.read({first_free(), capacity});
    if (n < 0) return tun_read_ended();
    outbound_.emplace_back(first_free(), size_t(n));
    ++slots_used_;
    return true;
  }
  const ssize_t n = tun_.read({tun_read_.get(), kTunReadSize});
  if (n < 0) return tun_read_ended();
  auto split = [&] {
    const size_t free = slot_count_ - slots_used_;
    return dataplane::gso_split({tun_read_.get(), size_t(n)},
                                {first_free(), free * slot_stride_ - dataplane::kBatchHeadroom},
                                slot_stride_, {segment_sizes_.data(), free});
  };
  size_t count = split();
  if (count == 0 && slots_used_ > 0) {
    seal_slots();
    count = split();
  }
  if (count == 0) device_.count_tun_malformed();
  for (size_t i = 0; i < count; ++i) {
    if (segment_sizes_[i] > capacity) {  // larger than the MTU the slots were cut for
      device_.count_tun_malformed();
      continue;
    }
    outbound_.emplace_back(first_free() + i * slot_stride_, segment_sizes_[i]);
  }
  slots_used_ += count;
  return true;
}

// A failed TUN read ends the burst. EAGAIN/EINTR: drained. Anything else (EBADFD): the
// interface was deleted (`ip link del`, `wg-quick down`), and the node stops. Returns false.
bool Node::tun_read_ended() {
  if (errno != EAGAIN && errno != EINTR) {
    fmt::print(stderr, "qvpn: {}: interface gone ({}), stopping\n", name(),
               std::generic_category().message(errno));
    stop();
  }
  return false;
}

void Node::seal_slots() {
  if (!outbound_.empty() && !stopped_) {
    device_.handle_tun_packets(outbound_, platform::MonoClock::now(), *this);
  }
  outbound_.clear();
  slots_used_ = 0;
}

void Node::drain_udp() {
  for (int burst = 0; burst < kUdpBurst; ++burst) {
    const int n = udp_.recv_batch(rx_);
    if (n <= 0) break;  // EAGAIN, or an ICMP error surfaced on the socket: nothing to read
    inbound_.clear();
    for (int i = 0; i < n; ++i) {
      const platform::InDatagrams& in = rx_[size_t(i)];
      for (size_t off = 0; off < in.len; off += in.segment_size) {
        const auto bytes = in.buf.subspan(off, std::min(in.segment_size, in.len - off));
        if (!nat_) {
          inbound_.push_back({bytes, in.from});
        } else if (is_wireguard(bytes)) {
          inbound_.push_back({bytes, nat_->inbound_source(in.from)});
        } else {
          nat_->handle_udp(bytes, in.from);
        }
      }
    }
    device_.handle_datagrams(inbound_, platform::MonoClock::now(), *this);
    if (size_t(n) < rx_.size()) break;
  }
  reschedule();
}

void Node::send_datagram(std::span<const uint8_t> bytes, const platform::Endpoint& to) {
  // A full socket buffer or an unreachable network drops the datagram, as a router would;
  // WireGuard's timers recover.
  if (!nat_) {
    udp_.send_to(bytes, to);
    return;
  }
  platform::Endpoint direct;
  switch (nat_->route(to, direct, platform::MonoClock::now())) {
    case NatTraversal::Via::kUdp:
      udp_.send_to(bytes, direct);
      break;
    case NatTraversal::Via::kRelay:
      nat_->send_relayed(to, bytes);
      break;
    case NatTraversal::Via::kDrop:
      break;
  }
}

void Node::send_datagrams(std::span<const platform::OutDatagram> datagrams) {
  if (!nat_) {
    udp_.send_batch(datagrams);
    return;
  }
  // Managed peers' datagrams go to their current path: rewritten to the direct endpoint
  // (keeping GSO runs together), or handed to the relay.
  const auto now = platform::MonoClock::now();
  routed_.clear();
  for (const auto& d : datagrams) {
    platform::Endpoint direct;
    switch (nat_->route(d.to, direct, now)) {
      case NatTraversal::Via::kUdp:
        routed_.push_back({d.bytes, direct});
        break;
      case NatTraversal::Via::kRelay:
        nat_->send_relayed(d.to, d.bytes);
        break;
      case NatTraversal::Via::kDrop:
        break;
    }
  }
  udp_.send_batch(routed_);
}

void Node::write_tun(std::span<const uint8_t> ip_packet) {
  if (tun_.offload()) {
    write_tun_packets({&ip_packet, 1});
  } else {
    tun_.write(ip_packet);
  }
}

// With offloads every write carries a virtio_net_hdr, and runs of one TCP flow's segments
// become one super-packet.
void Node::write_tun_packets(std::span<const std::span<const uint8_t>> packets) {
  if (!tun_.offload()) {
    for (const auto& p : packets) tun_.write(p);
    return;
  }
  size_t needed = 0;
  for (const auto& p : packets) needed += p.size() + dataplane::kVirtioNetHdrSize;
  if (gro_out_.size() < needed) gro_out_.resize(needed);
  if (gro_writes_.size() < packets.size()) gro_writes_.resize(packets.size());
  const size_t writes = dataplane::gro_coalesce(packets, gro_out_, gro_writes_);
  for (size_t i = 0; i < writes; ++i) tun_.write({gro_writes_[i].data, gro_writes_[i].len});
}

}  // namespace qvpn::core
