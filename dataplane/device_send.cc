// Outbound flow: TUN packet -> peer by destination -> staged -> encrypted -> UDP.
#include <algorithm>
#include <cstring>

#include "dataplane/device.h"
#include "dataplane/endian.h"
#include "dataplane/tai64n.h"

namespace qvpn::dataplane {

void Device::handle_tun_packet(std::span<const uint8_t> ip_packet, platform::TimePoint now,
                               Sink& sink) {
  const PeerId id = allowed_ips_.lookup_packet(ip_packet, /*by_source=*/false);
  Peer* peer = peer_by_id(id);
  if (!peer || ip_packet.size() > 65535) {
    ++counters_.drop_no_route;
    return;
  }
  if (!peer->endpoint) {
    ++counters_.drop_no_endpoint;
    return;
  }
  // Fast path: nothing waiting and a usable session, so no copy into the stage.
  Keypair* kp = peer->keypairs.current.get();
  if (peer->staged.empty() && kp && kp->can_send(now)) {
    encrypt_and_send(*peer, *kp, ip_packet, now, sink);
    keep_key_fresh_on_send(*peer, now, sink);
    return;
  }
  if (peer->staged.size() >= kMaxStagedPackets) {
    peer->staged.pop_front();
    ++counters_.drop_staged_overflow;
  }
  peer->staged.emplace_back(ip_packet.begin(), ip_packet.end());
  send_staged(*peer, now, sink);
}

void Device::send_staged(Peer& peer, platform::TimePoint now, Sink& sink) {
  Keypair* kp = peer.keypairs.current.get();
  if (!kp || !kp->can_send(now)) {
    send_initiation(peer, /*is_retry=*/false, now, sink);
    return;
  }
  while (!peer.staged.empty()) {
    if (!encrypt_and_send(peer, *kp, peer.staged.front(), now, sink)) {
      send_initiation(peer, false, now, sink);
      return;
    }
    peer.staged.pop_front();
  }
  keep_key_fresh_on_send(peer, now, sink);
}

// Message: type 4 | receiver index | counter | AEAD(packet padded to 16, capped at MTU).
// Writes the header at `message` and zero-pads the packet that follows it, taking the
// keypair's next counter; returns the job that seals the padded packet in place.
AeadJob Device::frame_transport(Keypair& kp, uint8_t* message, size_t packet_length) const {
  const uint64_t counter = kp.send_counter++;
  size_t padded = (packet_length + kPaddingMultiple - 1) / kPaddingMultiple * kPaddingMultiple;
  if (padded > mtu_) padded = std::max(mtu_, packet_length);
  const TransportHeader header{to_le<uint32_t>(uint32_t(MessageType::kTransportData)),
                               to_le(kp.remote_index), to_le(counter)};
  std::memcpy(message, &header, sizeof(header));
  uint8_t* body = message + kTransportHeaderSize;
  std::memset(body + packet_length, 0, padded - packet_length);
  return {kp.send_key.data(), counter, nullptr, 0, body, body, padded, false};
}

void Device::account_sent(Peer& peer, size_t message_length, bool is_data,
                          platform::TimePoint now) {
  ++counters_.tx_datagrams;
  peer.stats.tx_bytes += message_length;
  on_any_authenticated_packet_sent(peer);
  on_any_authenticated_packet_traversal(peer, now);
  if (is_data) on_data_sent(peer, now);
}

bool Device::encrypt_and_send(Peer& peer, Keypair& kp, std::span<const uint8_t> packet,
                              platform::TimePoint now, Sink& sink) {
  if (!peer.endpoint || kp.send_counter >= kRejectAfterMessages) return false;
  uint8_t* out = tx_buf_.data();
  if (!packet.empty()) std::memcpy(out + kTransportHeaderSize, packet.data(), packet.size());
  AeadJob job = frame_transport(kp, out, packet.size());
  chacha20poly1305_seal({&job, 1});

  const size_t total = kTransportHeaderSize + job.len + kAeadTagSize;
  sink.send_datagram({out, total}, *peer.endpoint);
  account_sent(peer, total, !packet.empty(), now);
  return true;
}

// The batch form of handle_tun_packet: packets of peers with a usable session and nothing
// staged are sealed in place together; the rest take the one-packet path.
void Device::handle_tun_packets(std::span<const std::span<uint8_t>> ip_packets,
                                platform::TimePoint now, Sink& sink) {
  jobs_.clear();
  out_.clear();
  Peer* last = nullptr;
  for (const std::span<uint8_t> packet : ip_packets) {
    Peer* peer = peer_by_id(allowed_ips_.lookup_packet(packet, /*by_source=*/false));
    Keypair* kp = peer ? peer->keypairs.current.get() : nullptr;
    if (!kp || !peer->staged.empty() || !kp->can_send(now) || !peer->endpoint ||
        packet.size() > 65535) {
      handle_tun_packet(packet, now, sink);
      continue;
    }
    uint8_t* message = packet.data() - kTransportHeaderSize;
    jobs_.push_back(frame_transport(*kp, message, packet.size()));
    const size_t total = kTransportHeaderSize + jobs_.back().len + kAeadTagSize;
    out_.push_back({{message, total}, *peer->endpoint});
    account_sent(*peer, total, !packet.empty(), now);
    if (last && last != peer) keep_key_fresh_on_send(*last, now, sink);
    last = peer;
  }
  if (jobs_.empty()) return;
  run_crypto(/*seal=*/true);
  sink.send_datagrams(out_);
  keep_key_fresh_on_send(*last, now, sink);
}

// A keepalive is an empty data packet; with no session it waits in the stage like any
// other packet, and so starts a handshake.
void Device::send_keepalive(Peer& peer, platform::TimePoint now, Sink& sink) {
  if (peer.staged.empty()) peer.staged.emplace_back();
  send_staged(peer, now, sink);
}

void Device::send_initiation(Peer& peer, bool is_retry, platform::TimePoint now, Sink& sink) {
  if (!is_retry) peer.timers.handshake_attempts = 0;
  if (peer.last_sent_handshake && now - *peer.last_sent_handshake < kRekeyTimeout) return;
  if (!peer.endpoint) {
    ++counters_.drop_no_endpoint;
    return;
  }
  if (peer.handshake.local_index) release_index(peer.handshake.local_index);
  peer.handshake.clear();
  const uint32_t index = allocate_index(peer.id);
  HandshakeInitiation msg;
  if (!create_initiation(msg, peer.handshake, identity_, index, tai64n_from(wall_clock_()))) {
    release_index(index);
    peer.handshake.clear();
    return;
  }
  peer.last_sent_handshake = now;
  ++counters_.handshakes_initiated;
  on_any_authenticated_packet_traversal(peer, now);
  on_any_authenticated_packet_sent(peer);
  send_handshake_message(peer, {reinterpret_cast<uint8_t*>(&msg), sizeof(msg)}, now, sink);
  on_handshake_initiated(peer, now);
}

void Device::send_handshake_message(Peer& peer, std::span<uint8_t> msg, platform::TimePoint now,
                                    Sink& sink) {
  peer.cookie.add_macs(msg, now);
  sink.send_datagram(msg, *peer.endpoint);
  ++counters_.tx_datagrams;
  peer.stats.tx_bytes += msg.size();
}

// Whitepaper 6.2: the initiator of the current session starts a new handshake after
// Rekey-After-Messages messages or Rekey-After-Time.
void Device::keep_key_fresh_on_send(Peer& peer, platform::TimePoint now, Sink& sink) {
  const Keypair* kp = peer.keypairs.current.get();
  if (kp && kp->can_send(now) &&
      (kp->send_counter > kRekeyAfterMessages ||
       (kp->initiator && now - kp->birth >= kRekeyAfterTime))) {
    send_initiation(peer, false, now, sink);
  }
}

}  // namespace qvpn::dataplane
