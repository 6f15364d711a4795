#pragma once
// NAT traversal for a node (docs/nat-traversal.md): its relay connections, STUN, the local
// candidates, disco with each peer and each peer's PeerPath. It runs on the node's Asio
// thread and sits between the Device and the socket:
//   - The Device sees each managed peer at a fixed pseudo endpoint (in 100::/64, the
//     discard prefix), so one WireGuard session survives every path change; route() turns
//     it into the peer's current direct endpoint or its relay.
//   - WireGuard datagrams from a peer's candidate address, or through the relay, reach the
//     Device from the pseudo endpoint; disco and STUN datagrams on the port come here.
#include <asio.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/port_mapper.h"
#include "core/relay_client.h"
#include "dataplane/keys.h"
#include "nat/disco.h"
#include "nat/peer_path.h"
#include "nat/stun_probe.h"
#include "platform/clock.h"
#include "platform/endpoint.h"

namespace qvpn::core {

struct NatCounters {
  uint64_t disco_rx = 0;
  uint64_t drop_disco_malformed = 0;      // a known sender's box that does not open
  uint64_t drop_disco_unknown_sender = 0;
  uint64_t drop_stun_malformed = 0;       // STUN on the port that answers nothing of ours
  uint64_t drop_unknown_protocol = 0;     // neither WireGuard, disco nor STUN
  uint64_t drop_relay_unknown_sender = 0;
  uint64_t drop_no_path = 0;
  uint64_t relay_packets_rx = 0;
  uint64_t relay_packets_tx = 0;
  uint64_t drop_relay_send = 0;  // the relay not connected, or its queue full
};

struct PeerPathStatus {
  enum class Kind { kNone, kDirect, kRelay } kind = Kind::kNone;
  platform::Endpoint endpoint;  // kDirect
  std::string relay;            // kRelay: its name
  std::string reason;           // why not direct
  std::optional<platform::Duration> rtt;
  size_t candidates = 0;
};

struct PortMapStatus {
  std::string protocol;  // "pcp", "nat-pmp", "upnp"
  platform::Endpoint external;
};

struct RelayStatus {
  std::string name, address;
  bool connected = false;
  bool home = false;
  std::optional<std::chrono::microseconds> latency;
};

struct PingReply {
  platform::Duration rtt;
  PeerPathStatus::Kind path;
  platform::Endpoint endpoint;  // direct
  std::string relay;
};

class NatTraversal {
 public:
  struct Io {
    // A datagram from the node's UDP socket; ttl 0 = the default.
    std::function<void(std::span<const uint8_t>, const platform::Endpoint&, int ttl)> send_udp;
    // A WireGuard message that came through a relay, from the peer's pseudo endpoint.
    std::function<void(std::span<const uint8_t>, const platform::Endpoint& from)> deliver;
    // The addresses of the node's own tunnel interface, never candidates.
    std::string tunnel_interface;
  };

  NatTraversal(asio::io_context& io, const NatConfig& config, const dataplane::SecretKey& key,
               uint16_t listen_port, Io callbacks);
  ~NatTraversal();

  // Registers a peer; returns the pseudo endpoint the Device must use for it.
  platform::Endpoint add_peer(const dataplane::PublicKey& key, PathPolicy policy,
                              std::optional<platform::Endpoint> static_endpoint,
                              const std::string& relay);
  void start();

  static bool is_pseudo(const platform::Endpoint& ep);
  // Where a datagram for `to` goes now. Non-pseudo endpoints pass unchanged.
  enum class Via { kUdp, kRelay, kDrop };
  Via route(const platform::Endpoint& to, platform::Endpoint& direct, platform::TimePoint now);
  // Sends through the peer's relay (after route() said kRelay for `to`).
  void send_relayed(const platform::Endpoint& to, std::span<const uint8_t> bytes);
  // The source the Device should see for a WireGuard datagram from `from`.
  platform::Endpoint inbound_source(const platform::Endpoint& from);
  // A datagram on the port that is not WireGuard: disco or STUN.
  void handle_udp(std::span<const uint8_t> bytes, const platform::Endpoint& from);

  const NatCounters& counters() const { return counters_; }
  std::vector<RelayStatus> relays() const;
  std::optional<PortMapStatus> port_mapping() const;
  std::optional<PeerPathStatus> path_of(const dataplane::PublicKey& key) const;
  // The endpoint `wg show` should print for a pseudo endpoint.
  std::optional<platform::Endpoint> shown_endpoint(const platform::Endpoint& pseudo) const;
  // A disco ping along the current path; `done` gets the reply or nullopt after 2 s.
  void ping(const dataplane::PublicKey& key, std::function<void(std::optional<PingReply>)> done);

 private:
  struct Peer;
  struct PendingPing;
  Peer* peer_of(const dataplane::PublicKey& key);
  Peer* peer_of_pseudo(const platform::Endpoint& ep);
  RelayClient* relay_of(const Peer& p) const;
  void add_relay(const RelayConfig& relay);
  void on_relay_packet(const dataplane::PublicKey& src, std::span<const uint8_t> bytes);
  void on_relay_state();
  void handle_disco(std::span<const uint8_t> bytes, std::optional<platform::Endpoint> from);
  void send_disco(Peer& p, const nat::DiscoMessage& m, std::optional<platform::Endpoint> to, int ttl = 0);
  void poll_peer(Peer& p, platform::TimePoint now);
  void start_stun(platform::TimePoint now);
  void refresh_candidates(platform::TimePoint now);
  void update_hard_nat();
  void on_timer();
  void reschedule();

  asio::io_context& io_;
  NatConfig config_;
  dataplane::SecretKey secret_;
  dataplane::PublicKey public_;
  uint16_t port_;
  Io cb_;
  std::map<std::string, std::unique_ptr<RelayClient>> relays_;
  std::vector<std::unique_ptr<Peer>> peers_;
  std::vector<platform::Endpoint> stun_servers_;
  std::optional<nat::StunProbe> stun_;
  platform::TimePoint next_stun_{};
  std::optional<platform::Endpoint> stun_mapped_;
  bool stun_varies_ = false;
  bool hard_nat_ = false;  // the STUN mapping varies, and no port mapping helps
  std::unique_ptr<PortMapper> port_mapper_;
  std::optional<PortMapping> port_mapping_;
  std::vector<platform::Endpoint> candidates_;
  uint8_t generation_ = 0;  // of candidates_
  std::vector<std::unique_ptr<PendingPing>> pings_;
  asio::steady_timer timer_;
  std::optional<platform::TimePoint> timer_at_;
  // The last inbound source mapped to a pseudo endpoint: bursts come from one source.
  platform::Endpoint last_from_, last_pseudo_;
  NatCounters counters_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace qvpn::core
