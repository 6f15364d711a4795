// The whitepaper's timers (section 6), as event hooks in the manner of the Linux module's
// timers.c. Each hook says which event calls it; run_timers fires what is due.
#include <algorithm>

#include "dataplane/aead.h"
#include "dataplane/device.h"

namespace qvpn::dataplane {
namespace {

platform::Duration jitter() {
  return std::chrono::milliseconds(random_u32() % (kRekeyTimeoutJitterMax.count() + 1));
}

void earliest(std::optional<platform::TimePoint>& acc,
              const std::optional<platform::TimePoint>& t) {
  if (t && (!acc || *t < *acc)) acc = t;
}

bool due(std::optional<platform::TimePoint>& t, platform::TimePoint now) {
  if (!t || *t > now) return false;
  t.reset();
  return true;
}

}  // namespace

// Called after a data packet (not a keepalive) is sent: if no reply comes, rehandshake.
void Device::on_data_sent(Peer& peer, platform::TimePoint now) {
  if (!peer.timers.new_handshake) {
    peer.timers.new_handshake = now + kKeepaliveTimeout + kRekeyTimeout + jitter();
  }
}

// Called after a data packet (not a keepalive) is received: answer with a keepalive
// unless we send something first.
void Device::on_data_received(Peer& peer, platform::TimePoint now) {
  if (!peer.timers.send_keepalive) {
    peer.timers.send_keepalive = now + kKeepaliveTimeout;
  } else {
    peer.timers.need_another_keepalive = true;
  }
}

// Called after any authenticated packet (data, keepalive, handshake) is sent.
void Device::on_any_authenticated_packet_sent(Peer& peer) { peer.timers.send_keepalive.reset(); }

// Called after any authenticated packet is received.
void Device::on_any_authenticated_packet_received(Peer& peer) {
  peer.timers.new_handshake.reset();
}

// Called after any authenticated packet is sent or received.
void Device::on_any_authenticated_packet_traversal(Peer& peer, platform::TimePoint now) {
  if (peer.persistent_keepalive) {
    peer.timers.persistent_keepalive = now + std::chrono::seconds(peer.persistent_keepalive);
  }
}

// Called after a handshake initiation is sent.
void Device::on_handshake_initiated(Peer& peer, platform::TimePoint now) {
  peer.timers.retransmit_handshake = now + kRekeyTimeout + jitter();
}

// Called when a session is confirmed: a response received, or the initiator's first
// packet on our responder keypair.
void Device::on_handshake_complete(Peer& peer) {
  peer.timers.retransmit_handshake.reset();
  peer.timers.handshake_attempts = 0;
  peer.timers.sent_lastminute_handshake = false;
  peer.stats.last_handshake = wall_clock_();
  ++counters_.handshakes_completed;
}

// Called when a new keypair is derived: wipe everything if nothing newer comes.
void Device::on_session_derived(Peer& peer, platform::TimePoint now) {
  peer.timers.zero_key_material = now + 3 * kRejectAfterTime;
}

void Device::set_persistent_keepalive(Peer& peer, uint16_t seconds, platform::TimePoint now,
                                      Sink& sink) {
  peer.persistent_keepalive = seconds;
  if (!seconds) {
    peer.timers.persistent_keepalive.reset();
  } else if (identity_.present && peer.endpoint) {
    send_keepalive(peer, now, sink);
  }
}

void Device::run_timers(Peer& peer, platform::TimePoint now, Sink& sink) {
  PeerTimers& t = peer.timers;
  if (due(t.retransmit_handshake, now)) {
    if (t.handshake_attempts > kMaxTimerHandshakes) {
      // Rekey-Attempt-Time is over: give up on the waiting packets.
      t.send_keepalive.reset();
      peer.staged.clear();
      if (!t.zero_key_material) t.zero_key_material = now + 3 * kRejectAfterTime;
    } else {
      ++t.handshake_attempts;
      send_initiation(peer, /*is_retry=*/true, now, sink);
    }
  }
  if (due(t.send_keepalive, now)) {
    send_keepalive(peer, now, sink);
    if (t.need_another_keepalive) {
      t.need_another_keepalive = false;
      t.send_keepalive = now + kKeepaliveTimeout;
    }
  }
  if (due(t.new_handshake, now)) send_initiation(peer, false, now, sink);
  if (due(t.zero_key_material, now)) zero_key_material(peer);
  if (due(t.persistent_keepalive, now) && peer.persistent_keepalive) {
    send_keepalive(peer, now, sink);
  }
}

void Device::tick(platform::TimePoint now, Sink& sink) {
  for (Peer* peer : peers()) run_timers(*peer, now, sink);
}

std::optional<platform::TimePoint> Device::next_deadline() const {
  std::optional<platform::TimePoint> next;
  for (const auto& [id, peer] : peers_) {
    const PeerTimers& t = peer->timers;
    for (const auto* d : {&t.retransmit_handshake, &t.send_keepalive, &t.new_handshake,
                          &t.zero_key_material, &t.persistent_keepalive}) {
      earliest(next, *d);
    }
  }
  return next;
}

}  // namespace qvpn::dataplane
