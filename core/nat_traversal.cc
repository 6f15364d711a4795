#include "core/nat_traversal.h"

#include <fmt/core.h>
#include <ifaddrs.h>
#include <net/if.h>

#include <algorithm>
#include <cstring>

#include "dataplane/x25519.h"

namespace qvpn::core {

namespace {

using Kind = PeerPathStatus::Kind;
constexpr auto kStunInterval = std::chrono::seconds(30);
constexpr auto kHousekeeping = std::chrono::seconds(1);
constexpr auto kPingTimeout = std::chrono::seconds(2);
// A punch crosses our own NAT (one router hop) and expires at the next router, before the
// peer's NAT could see it (nat/peer_path.h).
constexpr int kPunchTtl = 2;
constexpr uint16_t kPseudoPort = 9;  // discard

platform::Endpoint pseudo_endpoint(uint32_t index) {
  platform::Endpoint ep;
  ep.ip.v6 = true;
  ep.ip.bytes[0] = 0x01;  // 100::/64, RFC 6666: discard-only, never a real peer
  for (int i = 0; i < 4; ++i) ep.ip.bytes[12 + i] = static_cast<uint8_t>(index >> (24 - 8 * i));
  ep.port = kPseudoPort;
  return ep;
}

// This host's addresses a peer on the same network could reach: up, not loopback, not
// link-local, not the tunnel's own.
std::vector<platform::IpAddress> local_addresses(const std::string& tunnel) {
  std::vector<platform::IpAddress> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || !(a->ifa_flags & IFF_UP) || (a->ifa_flags & IFF_LOOPBACK)) continue;
    if (tunnel == a->ifa_name) continue;
    const auto ep = platform::Endpoint::from_sockaddr(
        a->ifa_addr, a->ifa_addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
    if (!ep) continue;
    const auto& b = ep->ip.bytes;
    if (ep->ip.v6 ? (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) : (b[0] == 169 && b[1] == 254)) continue;
    out.push_back(ep->ip);
  }
  freeifaddrs(list);
  return out;
}

}  // namespace

struct NatTraversal::Peer {
  Peer(const dataplane::PublicKey& k, platform::Endpoint ps, nat::PeerPath pa,
       const dataplane::SecretKey& ours, std::string r)
      : key(k), pseudo(ps), path(std::move(pa)), box(ours, k), relay(std::move(r)) {}
  dataplane::PublicKey key;
  platform::Endpoint pseudo;
  nat::PeerPath path;
  nat::DiscoBox box;
  std::string relay;  // its home relay's name
};

struct NatTraversal::PendingPing {
  explicit PendingPing(asio::io_context& io) : timer(io) {}
  nat::DiscoTxId txid;
  platform::TimePoint sent;
  PingReply reply;
  std::function<void(std::optional<PingReply>)> done;
  asio::steady_timer timer;
};

NatTraversal::NatTraversal(asio::io_context& io, const NatConfig& config,
                           const dataplane::SecretKey& key, uint16_t listen_port, Io callbacks)
    : io_(io),
      config_(config),
      secret_(key),
      public_(dataplane::public_key_of(key)),
      port_(listen_port),
      cb_(std::move(callbacks)),
      timer_(io) {
  for (const auto& r : config_.relays) {
    for (const auto& s : r.stun) {
      if (auto ep = platform::Endpoint::resolve(s)) {
        stun_servers_.push_back(*ep);
      } else {
        fmt::print(stderr, "qvpn: STUN server {} does not resolve; skipped\n", s);
      }
    }
  }
}

NatTraversal::~NatTraversal() {
  *alive_ = false;
  port_mapper_.reset();  // deletes the mapping; its callback no longer runs
  for (auto& p : pings_) p->timer.cancel();
}

platform::Endpoint NatTraversal::add_peer(const dataplane::PublicKey& key, PathPolicy policy,
                                          std::optional<platform::Endpoint> static_endpoint,
                                          const std::string& relay) {
  if (Peer* p = peer_of(key)) return p->pseudo;
  const std::string name = relay.empty() ? config_.home().name : relay;
  add_relay(*config_.find_relay(name));
  peers_.push_back(std::make_unique<Peer>(key, pseudo_endpoint(uint32_t(peers_.size() + 1)),
                                          nat::PeerPath(policy, static_endpoint), secret_, name));
  return peers_.back()->pseudo;
}

void NatTraversal::add_relay(const RelayConfig& r) {
  if (relays_.count(r.name)) return;
  relays_[r.name] = std::make_unique<RelayClient>(
      io_, RelayClientOptions{.address = r.address, .tls = r.tls, .ca_file = r.ca_file}, secret_,
      RelayClient::Callbacks{
          .on_packet = [this](const dataplane::PublicKey& src,
                              std::span<const uint8_t> b) { on_relay_packet(src, b); },
          .on_peer_gone = {},
          .on_state = [this](bool) { on_relay_state(); },
      });
}

void NatTraversal::start() {
  add_relay(config_.home());  // always, so that peers can reach this node
  for (auto& [_, r] : relays_) r->start();
  if (config_.port_mapping) {
    // The mapper's thread reports here, on the node's thread.
    port_mapper_ = std::make_unique<PortMapper>(
        port_, [this, alive = alive_](std::optional<PortMapping> m) {
          asio::post(io_, [this, alive, m] {
            if (!*alive) return;
            port_mapping_ = m;
            update_hard_nat();
            refresh_candidates(platform::MonoClock::now());
            reschedule();
          });
        });
  }
  const auto now = platform::MonoClock::now();
  // Candidates are announced once the first STUN answers (or silence) tell our mapping.
  start_stun(now);
  if (!stun_) refresh_candidates(now);
  reschedule();
}

bool NatTraversal::is_pseudo(const platform::Endpoint& ep) {
  if (!ep.ip.v6 || ep.ip.bytes[0] != 0x01 || ep.port != kPseudoPort) return false;
  return std::all_of(ep.ip.bytes.begin() + 1, ep.ip.bytes.begin() + 12, [](uint8_t b) { return b == 0; });
}

NatTraversal::Peer* NatTraversal::peer_of(const dataplane::PublicKey& key) {
  for (auto& p : peers_) {
    if (p->key == key) return p.get();
  }
  return nullptr;
}

NatTraversal::Peer* NatTraversal::peer_of_pseudo(const platform::Endpoint& ep) {
  if (!is_pseudo(ep)) return nullptr;
  uint32_t index = 0;
  for (int i = 12; i < 16; ++i) index = index << 8 | ep.ip.bytes[i];
  return index >= 1 && index <= peers_.size() ? peers_[index - 1].get() : nullptr;
}

RelayClient* NatTraversal::relay_of(const Peer& p) const {
  const auto it = relays_.find(p.relay);
  return it == relays_.end() ? nullptr : it->second.get();
}

NatTraversal::Via NatTraversal::route(const platform::Endpoint& to, platform::Endpoint& direct,
                                      platform::TimePoint now) {
  Peer* p = peer_of_pseudo(to);
  if (!p) {
    direct = to;
    return Via::kUdp;
  }
  p->path.note_traffic(now);
  const auto r = p->path.route(now);
  switch (r.kind) {
    case nat::PeerPath::Route::Kind::kDirect:
      direct = r.endpoint;
      return Via::kUdp;
    case nat::PeerPath::Route::Kind::kRelay:
      return Via::kRelay;
    case nat::PeerPath::Route::Kind::kNone:
      break;
  }
  ++counters_.drop_no_path;
  return Via::kDrop;
}

void NatTraversal::send_relayed(const platform::Endpoint& to, std::span<const uint8_t> bytes) {
  Peer* p = peer_of_pseudo(to);
  RelayClient* relay = p ? relay_of(*p) : nullptr;
  if (relay && relay->send(p->key, bytes)) {
    ++counters_.relay_packets_tx;
  } else {
    ++counters_.drop_relay_send;
  }
}

platform::Endpoint NatTraversal::inbound_source(const platform::Endpoint& from) {
  if (from == last_from_) return last_pseudo_;
  platform::Endpoint source = from;
  for (const auto& p : peers_) {
    if (p->path.is_candidate(from)) {
      source = p->pseudo;
      break;
    }
  }
  last_from_ = from;
  last_pseudo_ = source;
  return source;
}

void NatTraversal::handle_udp(std::span<const uint8_t> bytes, const platform::Endpoint& from) {
  if (nat::is_disco(bytes)) {
    handle_disco(bytes, from);
  } else if (nat::is_stun(bytes)) {
    const auto now = platform::MonoClock::now();
    if (!stun_ || !stun_->handle(bytes, from, now)) ++counters_.drop_stun_malformed;
  } else {
    ++counters_.drop_unknown_protocol;
  }
  reschedule();
}

void NatTraversal::on_relay_packet(const dataplane::PublicKey& src, std::span<const uint8_t> bytes) {
  Peer* p = peer_of(src);
  if (!p) {
    ++counters_.drop_relay_unknown_sender;
    return;
  }
  ++counters_.relay_packets_rx;
  if (nat::is_disco(bytes)) {
    handle_disco(bytes, std::nullopt);
    reschedule();
  } else {
    cb_.deliver(bytes, p->pseudo);
  }
}

void NatTraversal::on_relay_state() {
  const auto now = platform::MonoClock::now();
  for (auto& p : peers_) {
    const RelayClient* r = relay_of(*p);
    p->path.set_relay_usable(r && r->connected(), now);
    poll_peer(*p, now);
  }
  reschedule();
}

void NatTraversal::handle_disco(std::span<const uint8_t> bytes,
                                std::optional<platform::Endpoint> from) {
  const auto sender = nat::disco_sender(bytes);
  Peer* p = sender ? peer_of(*sender) : nullptr;
  if (!p) {
    ++counters_.drop_disco_unknown_sender;
    return;
  }
  const auto message = p->box.open(bytes);
  if (!message) {
    ++counters_.drop_disco_malformed;
    return;
  }
  ++counters_.disco_rx;
  const auto now = platform::MonoClock::now();
  last_from_ = {};  // candidates may change
  if (const auto* ping = std::get_if<nat::DiscoPing>(&*message)) {
    send_disco(*p, nat::DiscoPong{ping->txid, from.value_or(platform::Endpoint{})}, from);
    if (from) p->path.on_ping_from(*from, now);
  } else if (const auto* pong = std::get_if<nat::DiscoPong>(&*message)) {
    const auto it = std::find_if(pings_.begin(), pings_.end(),
                                 [&](const auto& q) { return q->txid == pong->txid; });
    if (it != pings_.end()) {
      auto q = std::move(*it);
      pings_.erase(it);
      q->timer.cancel();
      q->reply.rtt = now - q->sent;
      q->done(q->reply);
    } else if (from) {
      p->path.on_pong(pong->txid, now);
    }
  } else {
    const auto& cmm = std::get<nat::DiscoCallMeMaybe>(*message);
    p->path.on_call_me_maybe(cmm.endpoints, cmm.generation, cmm.opened_toward, cmm.hard_nat, now);
  }
  poll_peer(*p, now);
}

void NatTraversal::send_disco(Peer& p, const nat::DiscoMessage& m,
                              std::optional<platform::Endpoint> to, int ttl) {
  const auto bytes = p.box.seal(m, public_);
  if (to) {
    cb_.send_udp(bytes, *to, ttl);
    return;
  }
  RelayClient* relay = relay_of(p);
  if (relay && relay->send(p.key, bytes)) {
    ++counters_.relay_packets_tx;
  } else {
    ++counters_.drop_relay_send;
  }
}

void NatTraversal::poll_peer(Peer& p, platform::TimePoint now) {
  auto out = p.path.poll(now);
  for (const auto& ping : out.pings) {
    send_disco(p, nat::DiscoPing{ping.txid}, ping.to, ping.low_ttl ? kPunchTtl : 0);
  }
  if (out.call_me_maybe) {
    send_disco(p, nat::DiscoCallMeMaybe{candidates_, generation_, out.opened_toward, hard_nat_},
               std::nullopt);
  }
}

void NatTraversal::start_stun(platform::TimePoint now) {
  next_stun_ = now + kStunInterval;
  if (stun_servers_.empty()) return;
  stun_.emplace(stun_servers_, now);
}

void NatTraversal::refresh_candidates(platform::TimePoint now) {
  std::vector<platform::Endpoint> c;
  for (const auto& ip : local_addresses(cb_.tunnel_interface)) c.push_back({ip, port_});
  for (const auto& mapped : {stun_mapped_, port_mapping_ ? std::optional(port_mapping_->external)
                                                           : std::nullopt}) {
    if (mapped && std::find(c.begin(), c.end(), *mapped) == c.end()) c.insert(c.begin(), *mapped);
  }
  if (c.size() > nat::kDiscoMaxEndpoints) c.resize(nat::kDiscoMaxEndpoints);
  if (c == candidates_) return;
  candidates_ = std::move(c);
  std::string text;
  for (const auto& e : candidates_) text += " " + e.to_string();
  fmt::print(stderr, "qvpn: {}: candidates:{}\n", cb_.tunnel_interface, text);
  ++generation_;
  for (auto& p : peers_) {
    p->path.local_candidates_changed(generation_);
    poll_peer(*p, now);
  }
}

void NatTraversal::update_hard_nat() {
  hard_nat_ = stun_varies_ && !port_mapping_;
  for (auto& p : peers_) p->path.set_local_hard_nat(hard_nat_);
}

std::optional<PortMapStatus> NatTraversal::port_mapping() const {
  if (!port_mapping_) return std::nullopt;
  return PortMapStatus{std::string(to_string(port_mapping_->protocol)), port_mapping_->external};
}

void NatTraversal::on_timer() {
  const auto now = platform::MonoClock::now();
  if (stun_) {
    for (const auto& s : stun_->poll(now)) cb_.send_udp(s.bytes, s.to, 0);
    if (stun_->done(now)) {
      stun_mapped_ = stun_->mapped();
      const bool varies = stun_->varies_by_destination().value_or(false);
      if (varies != stun_varies_) {
        fmt::print(stderr, "qvpn: {}: {} NAT (STUN mapping {} by destination)\n",
                   cb_.tunnel_interface, varies ? "hard" : "easy", varies ? "varies" : "does not vary");
      }
      stun_varies_ = varies;
      update_hard_nat();
      stun_.reset();
      refresh_candidates(now);
    }
  } else if (now >= next_stun_) {
    refresh_candidates(now);
    start_stun(now);
    for (const auto& s : stun_->poll(now)) cb_.send_udp(s.bytes, s.to, 0);
  }
  for (auto& p : peers_) poll_peer(*p, now);
}

void NatTraversal::reschedule() {
  const auto now = platform::MonoClock::now();
  auto at = now + std::chrono::duration_cast<platform::Duration>(kHousekeeping);
  const auto consider = [&](std::optional<platform::TimePoint> t) {
    if (t && *t < at) at = std::max(*t, now);
  };
  for (const auto& p : peers_) consider(p->path.next_deadline(now));
  if (stun_) consider(stun_->next_deadline(now));
  if (timer_at_ && *timer_at_ <= at) return;
  timer_at_ = at;
  timer_.expires_after(at - now);
  timer_.async_wait([this, alive = alive_](asio::error_code ec) {
    if (ec || !*alive) return;
    timer_at_.reset();
    on_timer();
    reschedule();
  });
}

std::vector<RelayStatus> NatTraversal::relays() const {
  std::vector<RelayStatus> out;
  for (const auto& [name, r] : relays_) {
    out.push_back({name, r->address(), r->connected(), name == config_.home().name, r->latency()});
  }
  return out;
}

std::optional<PeerPathStatus> NatTraversal::path_of(const dataplane::PublicKey& key) const {
  for (const auto& p : peers_) {
    if (p->key != key) continue;
    const auto now = platform::MonoClock::now();
    const auto r = p->path.route(now);
    PeerPathStatus s;
    s.kind = r.kind == nat::PeerPath::Route::Kind::kDirect  ? Kind::kDirect
             : r.kind == nat::PeerPath::Route::Kind::kRelay ? Kind::kRelay
                                                            : Kind::kNone;
    s.endpoint = r.endpoint;
    if (s.kind == Kind::kRelay) s.relay = p->relay;
    s.reason = p->path.reason(now);
    s.rtt = p->path.direct_rtt(now);
    s.candidates = p->path.candidates().size();
    return s;
  }
  return std::nullopt;
}

std::optional<platform::Endpoint> NatTraversal::shown_endpoint(const platform::Endpoint& pseudo) const {
  for (const auto& p : peers_) {
    if (p->pseudo != pseudo) continue;
    const auto r = p->path.route(platform::MonoClock::now());
    if (r.kind == nat::PeerPath::Route::Kind::kDirect) return r.endpoint;
    if (r.kind == nat::PeerPath::Route::Kind::kRelay) {
      if (const RelayClient* relay = relay_of(*p)) return platform::Endpoint::parse(relay->address());
    }
    return std::nullopt;
  }
  return pseudo;
}

void NatTraversal::ping(const dataplane::PublicKey& key,
                        std::function<void(std::optional<PingReply>)> done) {
  Peer* p = peer_of(key);
  if (!p) return done(std::nullopt);
  const auto now = platform::MonoClock::now();
  const auto r = p->path.route(now);
  auto q = std::make_unique<PendingPing>(io_);
  q->txid = nat::new_disco_txid();
  q->sent = now;
  q->done = std::move(done);
  if (r.kind == nat::PeerPath::Route::Kind::kDirect) {
    q->reply.path = Kind::kDirect;
    q->reply.endpoint = r.endpoint;
    send_disco(*p, nat::DiscoPing{q->txid}, r.endpoint);
  } else if (r.kind == nat::PeerPath::Route::Kind::kRelay) {
    q->reply.path = Kind::kRelay;
    q->reply.relay = p->relay;
    send_disco(*p, nat::DiscoPing{q->txid}, std::nullopt);
  } else {
    return q->done(std::nullopt);
  }
  q->timer.expires_after(kPingTimeout);
  q->timer.async_wait([this, txid = q->txid, alive = alive_](asio::error_code ec) {
    if (ec || !*alive) return;
    const auto it = std::find_if(pings_.begin(), pings_.end(),
                                 [&](const auto& x) { return x->txid == txid; });
    if (it == pings_.end()) return;
    auto expired = std::move(*it);
    pings_.erase(it);
    expired->done(std::nullopt);
  });
  pings_.push_back(std::move(q));
}

}  // namespace qvpn::core
