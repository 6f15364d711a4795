// Inbound flow: datagram -> by type: handshake (MACs, load, rate limit, Noise) or transport
// (keypair by index, decrypt, replay window, roam, source check) -> TUN.
#include <cstring>

#include "dataplane/aead.h"
#include "dataplane/device.h"
#include "dataplane/endian.h"

namespace qvpn::dataplane {
namespace {

uint32_t read_le32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return from_le(v);
}

uint64_t read_le64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return from_le(v);
}

// Length of the IP packet at the start of a decrypted payload (padding follows it), or 0
// when the payload does not hold a whole IPv4 or IPv6 packet.
size_t inner_packet_length(std::span<const uint8_t> p) {
  if (p.empty()) return 0;
  const unsigned version = p[0] >> 4;
  if (version == 4 && p.size() >= 20) {
    const size_t total = size_t(p[2]) << 8 | p[3];
    return total >= 20 && total <= p.size() ? total : 0;
  }
  if (version == 6 && p.size() >= 40) {
    const size_t total = 40 + (size_t(p[4]) << 8 | p[5]);
    return total <= p.size() ? total : 0;
  }
  return 0;
}

Keypair* keypair_by_index(Peer& peer, uint32_t local_index) {
  for (Keypair* k : {peer.keypairs.current.get(), peer.keypairs.previous.get(),
                     peer.keypairs.next.get()}) {
    if (k && k->local_index == local_index) return k;
  }
  return nullptr;
}

}  // namespace

void Device::handle_datagram(std::span<const uint8_t> bytes, const platform::Endpoint& from,
                             platform::TimePoint now, Sink& sink) {
  ++counters_.rx_datagrams;
  if (bytes.size() < 4) {
    ++counters_.drop_malformed;
    return;
  }
  const uint32_t type = read_le32(bytes.data());
  if (type == uint32_t(MessageType::kHandshakeInitiation) &&
      bytes.size() == kHandshakeInitiationSize) {
    receive_handshake(bytes, from, MessageType::kHandshakeInitiation, now, sink);
  } else if (type == uint32_t(MessageType::kHandshakeResponse) &&
             bytes.size() == kHandshakeResponseSize) {
    receive_handshake(bytes, from, MessageType::kHandshakeResponse, now, sink);
  } else if (type == uint32_t(MessageType::kCookieReply) && bytes.size() == kCookieReplySize) {
    receive_cookie_reply(bytes, now);
  } else if (type == uint32_t(MessageType::kTransportData) && bytes.size() >= kKeepaliveSize &&
             bytes.size() <= kMaxMessageSize) {
    receive_transport(bytes, from, now, sink);
  } else {
    ++counters_.drop_malformed;
  }
}

// Under load when more handshake messages arrive in one second than the threshold, and
// for kUnderLoadAfterTime after that.
bool Device::under_load(platform::TimePoint now) {
  if (now - load_window_start_ >= std::chrono::seconds(1)) {
    load_window_start_ = now;
    load_window_count_ = 0;
  }
  if (++load_window_count_ > under_load_threshold_) last_under_load_ = now;
  return last_under_load_ && now - *last_under_load_ < kUnderLoadAfterTime;
}

void Device::receive_handshake(std::span<const uint8_t> bytes, const platform::Endpoint& from,
                               MessageType type, platform::TimePoint now, Sink& sink) {
  const bool load = under_load(now);
  const auto mac = cookie_checker_.check(bytes, from, load, now);
  if (mac == CookieChecker::Result::kInvalidMac1) {
    ++counters_.drop_bad_mac1;
    return;
  }
  if (load) {
    if (mac != CookieChecker::Result::kValidMac2) {
      // Prove the source address first: the sender must echo a cookie in MAC2.
      uint8_t reply[kCookieReplySize];
      cookie_checker_.make_reply(reply, bytes, read_le32(bytes.data() + 4), from, now);
      sink.send_datagram(reply, from);
      ++counters_.cookie_replies_sent;
      return;
    }
    if (!rate_limiter_.allow(from.ip, now)) {
      ++counters_.drop_rate_limited;
      return;
    }
  }
  if (type == MessageType::kHandshakeInitiation) {
    receive_initiation(bytes, from, now, sink);
  } else {
    receive_response(bytes, from, now, sink);
  }
}

void Device::receive_initiation(std::span<const uint8_t> bytes, const platform::Endpoint& from,
                                platform::TimePoint now, Sink& sink) {
  HandshakeInitiation msg;
  std::memcpy(&msg, bytes.data(), sizeof(msg));
  InitiationScratch scratch;
  if (!consume_initiation_static(msg, identity_, scratch)) {
    ++counters_.drop_handshake_invalid;
    return;
  }
  Peer* peer = find_peer(scratch.remote_static);
  if (!peer) {
    ++counters_.drop_unknown_peer;
    return;
  }
  // At most kInitiationsPerSecond initiations per peer are worth the DH work.
  if (peer->last_initiation_consumption &&
      now - *peer->last_initiation_consumption < std::chrono::seconds(1) / kInitiationsPerSecond) {
    ++counters_.drop_handshake_invalid;
    return;
  }
  const uint32_t old_index = peer->handshake.local_index;
  if (consume_initiation_finish(msg, scratch, peer->handshake) != InitiationCheck::kOk) {
    ++counters_.drop_handshake_invalid;
    return;
  }
  if (old_index) release_index(old_index);
  peer->last_initiation_consumption = now;
  if (peer->roaming) peer->endpoint = from;
  peer->stats.rx_bytes += bytes.size();

  const uint32_t index = allocate_index(peer->id);
  HandshakeResponse response;
  std::optional<SessionKeys> keys;
  if (!create_response(response, peer->handshake, index) ||
      !(keys = derive_session(peer->handshake))) {
    release_index(index);
    peer->handshake.clear();
    ++counters_.drop_handshake_invalid;
    return;
  }
  install_keypair(*peer, *keys, now);
  on_session_derived(*peer, now);
  on_any_authenticated_packet_traversal(*peer, now);
  on_any_authenticated_packet_sent(*peer);
  peer->last_sent_handshake = now;
  send_handshake_message(*peer, {reinterpret_cast<uint8_t*>(&response), sizeof(response)}, now,
                         sink);
  on_any_authenticated_packet_received(*peer);
  on_any_authenticated_packet_traversal(*peer, now);
}

void Device::receive_response(std::span<const uint8_t> bytes, const platform::Endpoint& from,
                              platform::TimePoint now, Sink& sink) {
  HandshakeResponse msg;
  std::memcpy(&msg, bytes.data(), sizeof(msg));
  const uint32_t receiver = from_le(msg.receiver_index);
  auto it = indices_.find(receiver);
  Peer* peer = it == indices_.end() ? nullptr : peer_by_id(it->second);
  if (!peer || peer->handshake.local_index != receiver) {
    ++counters_.drop_unknown_index;
    return;
  }
  if (!consume_response(msg, peer->handshake, identity_)) {
    ++counters_.drop_handshake_invalid;
    return;
  }
  const auto keys = derive_session(peer->handshake);
  install_keypair(*peer, *keys, now);
  if (peer->roaming) peer->endpoint = from;
  peer->stats.rx_bytes += bytes.size();
  on_session_derived(*peer, now);
  on_handshake_complete(*peer);
  on_any_authenticated_packet_received(*peer);
  on_any_authenticated_packet_traversal(*peer, now);
  // Staged packets confirm the session; with none, a keepalive does it at once.
  send_keepalive(*peer, now, sink);
}

void Device::receive_cookie_reply(std::span<const uint8_t> bytes, platform::TimePoint now) {
  CookieReply msg;
  std::memcpy(&msg, bytes.data(), sizeof(msg));
  auto it = indices_.find(from_le(msg.receiver_index));
  Peer* peer = it == indices_.end() ? nullptr : peer_by_id(it->second);
  if (!peer) {
    ++counters_.drop_unknown_index;
    return;
  }
  if (!peer->cookie.consume_reply(msg, now)) ++counters_.drop_handshake_invalid;
}

Keypair* Device::transport_keypair(std::span<const uint8_t> bytes, Peer*& peer,
                                   platform::TimePoint now) {
  const uint32_t receiver = read_le32(bytes.data() + 4);
  const uint64_t counter = read_le64(bytes.data() + 8);
  auto it = indices_.find(receiver);
  peer = it == indices_.end() ? nullptr : peer_by_id(it->second);
  Keypair* kp = peer ? keypair_by_index(*peer, receiver) : nullptr;
  if (!kp) {
    ++counters_.drop_unknown_index;
    return nullptr;
  }
  if (!kp->can_receive(now) || counter >= kRejectAfterMessages) {
    ++counters_.drop_expired_keypair;
    return nullptr;
  }
  return kp;
}

void Device::receive_transport(std::span<const uint8_t> bytes, const platform::Endpoint& from,
                               platform::TimePoint now, Sink& sink) {
  Peer* peer;
  Keypair* kp = transport_keypair(bytes, peer, now);
  if (!kp) return;
  const uint64_t counter = read_le64(bytes.data() + 8);
  const auto sealed = bytes.subspan(kTransportHeaderSize);
  const std::span<uint8_t> plain(rx_buf_.data(), sealed.size() - kAeadTagSize);
  if (!aead_open(plain, kp->recv_key.span(), counter, sealed)) {
    ++counters_.drop_decrypt;
    return;
  }
  const auto packet = accept_transport(*peer, *kp, counter, bytes.size(), plain, from, now, sink);
  if (!packet.empty()) sink.write_tun(packet);
}

std::span<const uint8_t> Device::accept_transport(Peer& peer, Keypair& kp, uint64_t counter,
                                                  size_t message_length,
                                                  std::span<const uint8_t> plain,
                                                  const platform::Endpoint& from,
                                                  platform::TimePoint now, Sink& sink) {
  if (!kp.replay.accept(counter, kRejectAfterMessages)) {
    ++counters_.drop_replay;
    return {};
  }
  if (peer.roaming) peer.endpoint = from;  // the latest authenticated source wins
  peer.stats.rx_bytes += message_length;
  if (&kp == peer.keypairs.next.get()) {
    // The initiator used our responder keypair: it is confirmed.
    drop_keypair(peer.keypairs.previous);
    peer.keypairs.previous = std::move(peer.keypairs.current);
    peer.keypairs.current = std::move(peer.keypairs.next);
    on_handshake_complete(peer);
    send_staged(peer, now, sink);
  }
  keep_key_fresh_on_receive(peer, now, sink);
  on_any_authenticated_packet_received(peer);
  on_any_authenticated_packet_traversal(peer, now);
  if (plain.empty()) return {};  // keepalive

  on_data_received(peer, now);
  const size_t length = inner_packet_length(plain);
  if (length == 0) {
    ++counters_.drop_inner_malformed;
    return {};
  }
  const auto packet = plain.first(length);
  if (allowed_ips_.lookup_packet(packet, /*by_source=*/true) != peer.id) {
    ++counters_.drop_source_not_allowed;
    return {};
  }
  return packet;
}

// The batch form of handle_datagram: transport messages are opened together, in place.
// Anything else first settles the transport messages before it, because a handshake may
// replace the keypairs they were found under.
void Device::handle_datagrams(std::span<const InboundDatagram> datagrams, platform::TimePoint now,
                              Sink& sink) {
  jobs_.clear();
  pending_.clear();
  for (const InboundDatagram& d : datagrams) {
    const auto bytes = d.bytes;
    if (bytes.size() < kKeepaliveSize || bytes.size() > kMaxMessageSize ||
        read_le32(bytes.data()) != uint32_t(MessageType::kTransportData)) {
      open_pending(now, sink);
      handle_datagram(bytes, d.from, now, sink);
      continue;
    }
    ++counters_.rx_datagrams;
    Peer* peer;
    Keypair* kp = transport_keypair(bytes, peer, now);
    if (!kp) continue;
    const uint64_t counter = read_le64(bytes.data() + 8);
    uint8_t* sealed = bytes.data() + kTransportHeaderSize;
    jobs_.push_back({kp->recv_key.data(), counter, nullptr, 0, sealed, sealed,
                     bytes.size() - kTransportHeaderSize, false});
    pending_.push_back({peer->id, kp->local_index, counter, bytes.size(), &d});
  }
  open_pending(now, sink);
}

void Device::open_pending(platform::TimePoint now, Sink& sink) {
  if (jobs_.empty()) return;
  run_crypto(/*seal=*/false);
  deliver_.clear();
  for (size_t i = 0; i < pending_.size(); ++i) {
    const PendingOpen& p = pending_[i];
    if (!jobs_[i].ok) {
      ++counters_.drop_decrypt;
      continue;
    }
    // Accepting an earlier message may have rotated this one's keypair out of its peer.
    Peer* peer = peer_by_id(p.peer);
    Keypair* kp = peer ? keypair_by_index(*peer, p.local_index) : nullptr;
    if (!kp) {
      ++counters_.drop_expired_keypair;
      continue;
    }
    const std::span<const uint8_t> plain(jobs_[i].dst, jobs_[i].len - kAeadTagSize);
    const auto packet =
        accept_transport(*peer, *kp, p.counter, p.length, plain, p.datagram->from, now, sink);
    if (!packet.empty()) deliver_.push_back(packet);
  }
  jobs_.clear();
  pending_.clear();
  if (!deliver_.empty()) sink.write_tun_packets(deliver_);
}

// Whitepaper 6.2: the initiator rekeys shortly before Reject-After-Time if it is still
// receiving, so the session does not lapse while only the other side sends.
void Device::keep_key_fresh_on_receive(Peer& peer, platform::TimePoint now, Sink& sink) {
  if (peer.timers.sent_lastminute_handshake) return;
  const Keypair* kp = peer.keypairs.current.get();
  if (kp && kp->can_send(now) && kp->initiator &&
      now - kp->birth >= kRejectAfterTime - kKeepaliveTimeout - kRekeyTimeout) {
    peer.timers.sent_lastminute_handshake = true;
    send_initiation(peer, false, now, sink);
  }
}

}  // namespace qvpn::dataplane
