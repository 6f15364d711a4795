#pragma once
// What the device dropped and why. Bad input from the network is never an error: it is
// dropped silently and counted here.
#include <cstdint>

namespace qvpn::dataplane {

struct DeviceCounters {
  uint64_t rx_datagrams = 0;
  uint64_t tx_datagrams = 0;
  uint64_t drop_malformed = 0;          // unknown type, wrong size
  uint64_t drop_bad_mac1 = 0;
  uint64_t drop_rate_limited = 0;
  uint64_t cookie_replies_sent = 0;
  uint64_t drop_unknown_peer = 0;       // initiation from a key we do not know
  uint64_t drop_handshake_invalid = 0;  // Noise failed, replayed or flooded initiation
  uint64_t drop_unknown_index = 0;
  uint64_t drop_expired_keypair = 0;
  uint64_t drop_decrypt = 0;
  uint64_t drop_replay = 0;
  uint64_t drop_source_not_allowed = 0;  // inner source address not in the peer's allowed IPs
  uint64_t drop_inner_malformed = 0;
  uint64_t drop_no_route = 0;            // TUN packet to an address no peer owns
  uint64_t drop_tun_malformed = 0;       // TUN super-packet that could not be segmented
  uint64_t drop_no_endpoint = 0;
  uint64_t drop_staged_overflow = 0;
  uint64_t handshakes_initiated = 0;
  uint64_t handshakes_completed = 0;
};

}  // namespace qvpn::dataplane
