#pragma once
// One WireGuard peer: its keys, endpoint, handshake, keypairs, timers, the packets waiting
// for a session, and counters. Owned and driven by Device.
#include <deque>
#include <optional>
#include <vector>

#include "dataplane/allowed_ips.h"
#include "dataplane/cookie.h"
#include "dataplane/keypair.h"
#include "dataplane/noise.h"
#include "platform/clock.h"
#include "platform/endpoint.h"

namespace qvpn::dataplane {

// Deadlines of the whitepaper's timers (section 6); nullopt when not armed.
struct PeerTimers {
  std::optional<platform::TimePoint> retransmit_handshake;
  std::optional<platform::TimePoint> send_keepalive;
  std::optional<platform::TimePoint> new_handshake;
  std::optional<platform::TimePoint> zero_key_material;
  std::optional<platform::TimePoint> persistent_keepalive;
  bool need_another_keepalive = false;
  bool sent_lastminute_handshake = false;
  uint32_t handshake_attempts = 0;
};

struct PeerStats {
  uint64_t rx_bytes = 0;  // whole datagrams, as wg(8) counts them
  uint64_t tx_bytes = 0;
  std::optional<platform::WallTime> last_handshake;
};

struct Peer {
  PeerId id = kNoPeer;
  Handshake handshake;
  CookieMaker cookie;
  Keypairs keypairs;
  PeerTimers timers;
  PeerStats stats;
  std::optional<platform::Endpoint> endpoint;
  // False when the driver chooses the path itself (NAT traversal): authenticated packets
  // from a new source then leave the endpoint alone.
  bool roaming = true;
  uint16_t persistent_keepalive = 0;  // seconds, 0 = off
  std::optional<platform::TimePoint> last_sent_handshake;
  std::optional<platform::TimePoint> last_initiation_consumption;
  std::deque<std::vector<uint8_t>> staged;  // IP packets waiting for a session

  const PublicKey& public_key() const { return handshake.remote_static; }
};

}  // namespace qvpn::dataplane
