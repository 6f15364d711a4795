#pragma once
// The path to one peer, as a sans-IO state machine: which of the peer's candidate endpoints
// are proven by disco ping/pong, which one carries traffic, and when to fall back to the
// relay. The driver feeds it what disco and the relay report and sends what poll() returns.
//
// Punching (docs/nat-traversal.md): a Linux NAT that sees the peer's packet before its own
// host has sent toward the peer records an unreplied entry and then gives its host a new
// port for that peer. So nobody sends a normal packet toward candidates before the peer has
// said it opened its side toward exactly those candidates. Each side numbers its candidate
// sets (a generation); a call-me-maybe carries the sender's candidates and generation and,
// once it has punched toward them, the generation of the receiver's set it opened toward:
//   1. X sends call-me-maybe(X's candidates, generation x) through the relay.
//   2. Y sends each of X's candidates a low-TTL ping: it opens Y's NAT toward X and dies
//      between the NATs. Y answers call-me-maybe(Y's candidates, y, opened toward x).
//   3. X does the same low-TTL punch toward Y and, Y being open toward X's current set,
//      pings Y's candidates for real; it answers (X's, x, opened toward y), and Y pings too.
// A pong proves a candidate. The best proven one (lowest round trip, a private address on
// a near tie) carries traffic while its pongs keep coming; otherwise the relay does.
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "platform/clock.h"
#include "platform/endpoint.h"

namespace qvpn::nat {

// How traffic to a peer may travel: auto = the best proven direct path, else the relay;
// direct = never the relay; relay = always the relay.
enum class PathPolicy { kAuto, kDirect, kRelay };

using PingTxId = std::array<uint8_t, 12>;

struct PathTimings {
  platform::Duration heartbeat_active = std::chrono::seconds(1);
  platform::Duration heartbeat_idle = std::chrono::seconds(5);
  // A path is trusted this long after its last pong.
  platform::Duration trust_active = std::chrono::milliseconds(3500);
  platform::Duration trust_idle = std::chrono::seconds(12);
  // Traffic within this long makes the peer active.
  platform::Duration active_window = std::chrono::seconds(10);
  // Pinging a candidate after an opened call-me-maybe or a ping from it.
  platform::Duration punch_interval = std::chrono::milliseconds(250);
  platform::Duration punch_window = std::chrono::seconds(5);
  // A path that worked before is retried at this pace until it comes back or ages out.
  platform::Duration retry_proven = std::chrono::seconds(2);
  platform::Duration proven_memory = std::chrono::minutes(2);
  platform::Duration call_me_maybe_interval = std::chrono::seconds(5);
  platform::Duration candidate_lifetime = std::chrono::seconds(90);
  platform::Duration ping_timeout = std::chrono::seconds(5);
};

class PeerPath {
 public:
  struct Ping {
    platform::Endpoint to;
    PingTxId txid;
    bool low_ttl;  // a punch that opens our NAT and should die before the peer's
  };
  struct Output {
    std::vector<Ping> pings;
    // Send a call-me-maybe with our candidates through the relay, opened toward this
    // generation of the peer's candidates (nullopt: not yet punched).
    bool call_me_maybe = false;
    std::optional<uint8_t> opened_toward;
  };
  struct Route {
    enum class Kind { kNone, kDirect, kRelay } kind = Kind::kNone;
    platform::Endpoint endpoint;  // kDirect
  };
  struct Candidate {
    platform::Endpoint endpoint;
    bool fixed = false;  // the configured static endpoint: never expires
    platform::TimePoint refreshed{};
    std::optional<platform::TimePoint> last_ping;
    std::optional<platform::TimePoint> last_pong;
    std::optional<platform::Duration> rtt;
    platform::TimePoint punch_until{};
  };

  PeerPath(PathPolicy policy, std::optional<platform::Endpoint> static_endpoint,
           PathTimings timings = {});

  PathPolicy policy() const { return policy_; }
  // Whether the relay can carry traffic and call-me-maybe to this peer now.
  void set_relay_usable(bool usable, platform::TimePoint now);
  // Whether this node's own NAT maps per destination with no port mapping to help.
  void set_local_hard_nat(bool hard) { local_hard_ = hard; }
  // Our candidates changed (a new network, a STUN answer, a port mapping) and are now this
  // generation: tell the peer.
  void local_candidates_changed(uint8_t generation);

  // The peer's call-me-maybe: its candidates and their generation, which generation of ours
  // it has opened its NAT toward, and whether it is behind a hard NAT without a port mapping.
  void on_call_me_maybe(std::span<const platform::Endpoint> candidates, uint8_t generation,
                        std::optional<uint8_t> opened_toward, bool peer_hard,
                        platform::TimePoint now);
  // A disco ping from the peer arrived directly from `from` (the driver answers the pong).
  void on_ping_from(const platform::Endpoint& from, platform::TimePoint now);
  // A pong; false when the txid is not one of ours.
  bool on_pong(const PingTxId& txid, platform::TimePoint now);
  // Data went to or came from the peer: heartbeats run at the active pace.
  void note_traffic(platform::TimePoint now) { last_traffic_ = now; }

  Output poll(platform::TimePoint now);
  std::optional<platform::TimePoint> next_deadline(platform::TimePoint now) const;

  Route route(platform::TimePoint now) const;
  // Why traffic is relayed (or has no path), for `qvpn status`; "" when direct.
  std::string reason(platform::TimePoint now) const;
  bool is_candidate(const platform::Endpoint& endpoint) const;
  const std::vector<Candidate>& candidates() const { return candidates_; }
  std::optional<platform::Duration> direct_rtt(platform::TimePoint now) const;

 private:
  Candidate& candidate(const platform::Endpoint& endpoint, platform::TimePoint now);
  bool active(platform::TimePoint now) const;
  bool trusted(const Candidate& c, platform::TimePoint now) const;
  std::optional<platform::TimePoint> ping_due(const Candidate& c, platform::TimePoint now) const;
  void choose(platform::TimePoint now);
  void expire(platform::TimePoint now);
  const Candidate* current() const;

  PathPolicy policy_;
  PathTimings t_;
  std::vector<Candidate> candidates_;
  std::optional<platform::Endpoint> current_;
  struct Pending {
    PingTxId txid;
    platform::Endpoint to;
    platform::TimePoint sent;
  };
  std::vector<Pending> pending_;
  std::vector<Ping> punches_;  // low-TTL pings to send at the next poll
  bool relay_usable_ = false;
  bool local_hard_ = false;
  bool peer_hard_ = false;
  bool heard_from_peer_ = false;  // a call-me-maybe arrived
  uint8_t local_generation_ = 0;
  std::optional<uint8_t> punched_;      // the peer's generation we punched toward
  std::optional<uint8_t> sent_opened_;  // what our last call-me-maybe said we opened toward
  bool reply_owed_ = false;             // the peer should hear from us now
  std::optional<platform::TimePoint> next_call_me_maybe_;
  std::optional<platform::TimePoint> last_traffic_;
};

}  // namespace qvpn::nat
