// Node configuration: from a config file, and the UAPI's get and set.
#include <fmt/core.h>

#include "core/node.h"
#include "platform/netlink.h"

namespace qvpn::core {
void Node::apply_config(const Config& config) {
  // Everything that can fail on bad input is checked before anything changes.
  std::vector<std::optional<platform::Endpoint>> endpoints;
  for (const PeerConfig& peer : config.peers) {
    if (!peer.endpoint) {
      endpoints.emplace_back();
      continue;
    }
    auto ep = platform::Endpoint::resolve(*peer.endpoint);
    if (!ep) {
      throw ConfigError("", 0, "endpoint",
                        fmt::format("peer {}: '{}' does not resolve",
                                    dataplane::to_base64(peer.public_key.bytes), *peer.endpoint));
    }
    endpoints.push_back(ep);
  }
  if (config.interface.listen_port && !rebind(*config.interface.listen_port)) {
    throw std::system_error(EADDRINUSE, std::generic_category(),
                            fmt::format("listen port {}", *config.interface.listen_port));
  }

  device_.set_private_key(config.interface.private_key);
  fwmark_ = config.interface.fwmark;
  if (fwmark_) udp_.set_fwmark(fwmark_);
  const auto now = platform::MonoClock::now();
  for (size_t i = 0; i < config.peers.size(); ++i) {
    const PeerConfig& pc = config.peers[i];
    dataplane::Peer& peer = device_.add_peer(pc.public_key);
    device_.set_preshared_key(peer, pc.preshared_key);
    if (endpoints[i]) device_.set_endpoint(peer, *endpoints[i]);
    device_.clear_allowed_ips(peer);
    for (const auto& prefix : pc.allowed_ips) device_.add_allowed_ip(peer, prefix);
    device_.set_persistent_keepalive(peer, pc.persistent_keepalive, now, *this);
  }
  if (config.nat.enabled()) start_nat(config, endpoints);

  set_mtu(config.interface.mtu);
  platform::set_link_mtu(name(), int(config.interface.mtu));
  for (const InterfaceAddress& a : config.interface.addresses) {
    platform::add_address(name(), a.ip, a.prefix_len);
  }
  platform::set_link_up(name(), true);
  bool everything_v4 = false, everything_v6 = false;
  for (const PeerConfig& pc : config.peers) {
    for (const auto& prefix : pc.allowed_ips) {
      if (prefix.len == 0) {
        (prefix.addr.v6 ? everything_v6 : everything_v4) = true;
      } else {
        platform::add_route(name(), prefix.addr, prefix.len);
      }
    }
  }
  if (everything_v4 || everything_v6) route_everything(everything_v4, everything_v6);
  reschedule();
}

// Managed peers: the Device sends to a pseudo endpoint and NatTraversal picks the path.
void Node::start_nat(const Config& config,
                     std::span<const std::optional<platform::Endpoint>> endpoints) {
  nat_ = std::make_unique<NatTraversal>(
      io_, config.nat, config.interface.private_key, udp_.local_port(),
      NatTraversal::Io{
          .send_udp =
              [this](std::span<const uint8_t> bytes, const platform::Endpoint& to, int ttl) {
                if (ttl) {
                  udp_.send_to(bytes, to, ttl);
                } else {
                  udp_.send_to(bytes, to);
                }
              },
          .deliver =
              [this](std::span<const uint8_t> bytes, const platform::Endpoint& from) {
                device_.handle_datagram(bytes, from, platform::MonoClock::now(), *this);
                reschedule();
              },
          .tunnel_interface = name(),
      });
  for (size_t i = 0; i < config.peers.size(); ++i) {
    const PeerConfig& pc = config.peers[i];
    dataplane::Peer* peer = device_.find_peer(pc.public_key);
    if (!peer) continue;  // our own key
    peer->roaming = false;
    device_.set_endpoint(*peer, nat_->add_peer(pc.public_key, pc.path, endpoints[i], pc.relay));
  }
  nat_->start();
}

// A full tunnel, as wg-quick sets one up: the tunnel's own UDP packets carry a firewall
// mark and keep using the main table; everything else looks up a table whose default route
// is the tunnel, unless the main table knows something more specific than a default route
// (suppress_prefixlength 0), so the LAN stays reachable.
void Node::route_everything(bool v4, bool v6) {
  const uint32_t mark = fwmark_ ? fwmark_ : kFullTunnelTable;
  fwmark_ = mark;
  udp_.set_fwmark(mark);
  for (const bool six : {false, true}) {
    if (!(six ? v6 : v4)) continue;
    platform::IpAddress any;
    any.v6 = six;
    platform::add_route(name(), any, 0, mark);
    for (const platform::RoutingRule& rule :
         {platform::RoutingRule{six, mark, mark, std::nullopt},
          platform::RoutingRule{six, platform::kRouteTableMain, std::nullopt, 0}}) {
      platform::add_rule(rule);
      rules_.push_back(rule);
    }
  }
}

UapiState Node::uapi_state() {
  UapiState s;
  if (device_.identity().present) s.private_key = device_.identity().private_key;
  s.listen_port = udp_.local_port();
  s.fwmark = fwmark_;
  for (dataplane::Peer* peer : device_.peers()) {
    UapiPeerState p;
    p.public_key = peer->public_key();
    if (!peer->handshake.preshared.is_zero()) p.preshared_key = peer->handshake.preshared;
    p.endpoint = peer->endpoint;
    if (nat_ && p.endpoint) p.endpoint = nat_->shown_endpoint(*p.endpoint);
    p.persistent_keepalive = peer->persistent_keepalive;
    if (peer->stats.last_handshake) {
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          peer->stats.last_handshake->time_since_epoch())
                          .count();
      p.last_handshake_sec = ns / 1'000'000'000;
      p.last_handshake_nsec = ns % 1'000'000'000;
    }
    p.rx_bytes = peer->stats.rx_bytes;
    p.tx_bytes = peer->stats.tx_bytes;
    p.allowed_ips = device_.allowed_ips_of(*peer);
    s.peers.push_back(std::move(p));
  }
  return s;
}

// Applied in order, as wireguard-go does: a failure part way leaves what came before it.
int Node::uapi_set(const UapiSet& set) {
  if (set.private_key) {
    std::optional<dataplane::SecretKey> key;
    if (!set.private_key->is_zero()) key = set.private_key;
    device_.set_private_key(key);
  }
  if (set.listen_port && !rebind(*set.listen_port)) return kUapiErrorPortInUse;
  if (set.fwmark) {
    fwmark_ = *set.fwmark;
    udp_.set_fwmark(fwmark_);
  }
  if (set.replace_peers) device_.remove_all_peers();
  const auto now = platform::MonoClock::now();
  for (const UapiPeerSet& ps : set.peers) {
    if (ps.remove) {
      device_.remove_peer(ps.public_key);
      continue;
    }
    dataplane::Peer* peer = device_.find_peer(ps.public_key);
    if (!peer) {
      // A peer with our own public key is ignored, as wireguard-go does.
      if (ps.update_only || (device_.identity().present && ps.public_key == public_key())) {
        continue;
      }
      peer = &device_.add_peer(ps.public_key);
    }
    if (ps.preshared_key) {
      std::optional<dataplane::SecretKey> psk;
      if (!ps.preshared_key->is_zero()) psk = ps.preshared_key;
      device_.set_preshared_key(*peer, psk);
    }
    if (ps.endpoint) device_.set_endpoint(*peer, *ps.endpoint);
    if (ps.replace_allowed_ips) device_.clear_allowed_ips(*peer);
    for (const auto& prefix : ps.allowed_ips) device_.add_allowed_ip(*peer, prefix);
    if (ps.persistent_keepalive && *ps.persistent_keepalive != peer->persistent_keepalive) {
      device_.set_persistent_keepalive(*peer, *ps.persistent_keepalive, now, *this);
    }
  }
  reschedule();
  return 0;
}

}  // namespace qvpn::core
