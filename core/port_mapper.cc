#include "core/port_mapper.h"

#include <fmt/core.h>
#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#define ENABLE_STRNATPMPERR  // declares strnatpmperr, which the library always exports
#include <natpmp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>

#include "dataplane/aead.h"
#include "nat/pcp.h"
#include "platform/clock.h"
#include "platform/gateway.h"

namespace qvpn::core {

namespace {

using namespace std::chrono_literals;
using platform::Endpoint;
using platform::IpAddress;
using platform::MonoClock;
using Deadline = platform::TimePoint;
using Cancel = const std::atomic<bool>*;  // nullptr: the exchange cannot be cancelled

// Requested lifetimes: PCP and NAT-PMP as RFC 6886 recommends, UPnP one hour (some IGDs
// refuse any lease but 0, "permanent", which is then what we ask for).
constexpr uint32_t kRequestedLifetime = 7200;
constexpr uint32_t kUpnpLease = 3600;
constexpr int kUpnpOnlyPermanentLeases = 725;
constexpr int kUpnpConflict = 718;
constexpr int kUpnpAlternatePorts = 4;  // internal + 1 .. + 4 when the same port is taken
constexpr const char* kUpnpDescription = "qvpn";

constexpr auto kProbeTimeout = 2500ms;
constexpr auto kExchangeTimeout = 2s;      // one request: PCP retransmits at 250, 500, 1000 ms
constexpr auto kRetryInterval = 60s;       // when no protocol works
constexpr auto kMinRenewInterval = 10s;    // however short the granted lifetime
constexpr auto kPermanentRecheck = 30min;  // re-adds a UPnP lease without expiry
constexpr auto kPollSlice = 50ms;          // how soon a cancelled wait notices

bool cancelled(Cancel c) { return c && c->load(); }

// Milliseconds to poll for: until `d`, but at most one slice, so cancellation is noticed.
int slice_until(Deadline d) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(d - MonoClock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 0, kPollSlice.count()));
}

// The default gateway and this host's address toward it.
struct Gateway {
  IpAddress router;
  IpAddress local;
};

std::optional<Gateway> find_gateway() {
  const auto route = platform::default_route_v4();
  if (!route) return std::nullopt;
  const auto local = platform::source_address_toward(route->gateway);
  if (!local) return std::nullopt;
  return Gateway{route->gateway, *local};
}

// ---- PCP over a UDP socket connected to the gateway ------------------------------------

class ConnectedUdp {
 public:
  explicit ConnectedUdp(const Endpoint& to) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_storage sa{};
    const socklen_t len = to.to_sockaddr(sa, false);
    if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<const sockaddr*>(&sa), len) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~ConnectedUdp() {
    if (fd_ >= 0) ::close(fd_);
  }
  ConnectedUdp(const ConnectedUdp&) = delete;
  ConnectedUdp& operator=(const ConnectedUdp&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

// Sends `request` to the PCP server, again after 250, 500, 1000 ms (RFC 6887 §8.1.1 starts
// at 3 s; a LAN gateway answers in milliseconds, and we give up at the deadline), and hands
// every datagram that comes back to `done` until it returns true. False at the deadline, when
// cancelled, or when the gateway's port is closed (ICMP port unreachable).
template <typename Done>
bool pcp_exchange(const Gateway& gw, std::span<const uint8_t> request, Deadline deadline,
                  Cancel cancel, Done&& done) {
  ConnectedUdp sock(Endpoint{gw.router, nat::kPcpServerPort});
  if (sock.fd() < 0) return false;
  auto interval = 250ms;
  Deadline resend = MonoClock::now();
  uint8_t buf[nat::kPcpMaxMessageSize + 4];  // one more word, so oversized replies show
  while (MonoClock::now() < deadline && !cancelled(cancel)) {
    if (MonoClock::now() >= resend) {
      (void)::send(sock.fd(), request.data(), request.size(), 0);
      resend = MonoClock::now() + interval;
      interval *= 2;
    }
    pollfd p{sock.fd(), POLLIN, 0};
    if (::poll(&p, 1, slice_until(std::min(deadline, resend))) <= 0) continue;
    const ssize_t n = ::recv(sock.fd(), buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == ECONNREFUSED) return false;
      continue;
    }
    if (done(std::span<const uint8_t>(buf, static_cast<size_t>(n)))) return true;
  }
  return false;
}

// Whether the gateway speaks PCP: any version-2 answer to ANNOUNCE, even an error.
bool pcp_probe(const Gateway& gw, Deadline deadline, Cancel cancel) {
  const auto request = nat::encode_pcp_announce_request(gw.local);
  bool speaks = false;
  pcp_exchange(gw, request, deadline, cancel, [&](std::span<const uint8_t> reply) {
    if (nat::parse_natpmp_response_header(reply)) return true;  // NAT-PMP only
    const auto r = nat::parse_pcp_response(reply);
    speaks = r && r->opcode == nat::PcpOpcode::kAnnounce;
    return speaks;
  });
  return speaks;
}

// One MAP request; lifetime 0 deletes. Returns the grant on SUCCESS.
std::optional<PortMapping> pcp_map(const Gateway& gw, const nat::PcpNonce& nonce, uint16_t internal,
                                   const Endpoint& suggested, uint32_t lifetime) {
  nat::PcpMapRequest req;
  req.client = gw.local;
  req.lifetime = lifetime;
  req.map.nonce = nonce;
  req.map.internal_port = internal;
  req.map.external = suggested;
  const auto bytes = nat::encode_pcp_map_request(req);
  nat::PcpMapOutcome outcome;
  const bool answered = pcp_exchange(gw, bytes, MonoClock::now() + kExchangeTimeout, nullptr,
                                     [&](std::span<const uint8_t> reply) {
                                       outcome = nat::read_pcp_map_reply(reply, req);
                                       return outcome.reply != nat::PcpMapReply::kIgnore;
                                     });
  if (!answered || outcome.reply != nat::PcpMapReply::kMapped) {
    if (answered && outcome.reply == nat::PcpMapReply::kRefused) {
      fmt::print(stderr, "qvpn: port mapping: pcp refused: {}\n", nat::to_string(outcome.result));
    }
    return std::nullopt;
  }
  if (lifetime != 0 && (outcome.external.port == 0 || outcome.lifetime == 0s)) return std::nullopt;
  return PortMapping{PortMapProtocol::kPcp, outcome.external, outcome.lifetime};
}

// ---- NAT-PMP through libnatpmp ----------------------------------------------------------

class NatPmp {
 public:
  explicit NatPmp(const Gateway& gw) {
    in_addr_t router;
    std::memcpy(&router, gw.router.bytes.data(), 4);
    ok_ = initnatpmp(&n_, 1, router) == 0;
  }
  ~NatPmp() {
    if (ok_) closenatpmp(&n_);
  }
  NatPmp(const NatPmp&) = delete;
  NatPmp& operator=(const NatPmp&) = delete;
  bool ok() const { return ok_; }
  natpmp_t* get() { return &n_; }

  // Waits for the answer to the pending request; libnatpmp retransmits (250 ms, doubling)
  // and we stop at the deadline. Returns libnatpmp's code, NATPMP_TRYAGAIN on timeout.
  int await(natpmpresp_t& resp, Deadline deadline, Cancel cancel) {
    for (;;) {
      const int rc = readnatpmpresponseorretry(&n_, &resp);
      if (rc != NATPMP_TRYAGAIN) return rc;
      if (MonoClock::now() >= deadline || cancelled(cancel)) return NATPMP_TRYAGAIN;
      timeval tv{};
      int wait = slice_until(deadline);
      if (getnatpmprequesttimeout(&n_, &tv) == 0) {
        wait = std::min<int>(wait, static_cast<int>(tv.tv_sec * 1000 + tv.tv_usec / 1000));
      }
      pollfd p{n_.s, POLLIN, 0};
      ::poll(&p, 1, std::max(wait, 1));
    }
  }

 private:
  natpmp_t n_{};
  bool ok_ = false;
};

// A NAT-PMP server answered (libnatpmp maps the server's own error results to these codes).
bool natpmp_answered(int rc) {
  return rc == 0 || rc == NATPMP_ERR_UNSUPPORTEDOPCODE || rc == NATPMP_ERR_UNDEFINEDERROR ||
         rc == NATPMP_ERR_NOTAUTHORIZED || rc == NATPMP_ERR_NETWORKFAILURE ||
         rc == NATPMP_ERR_OUTOFRESOURCES;
}

// The public-address request: whether the gateway speaks NAT-PMP, and the address.
std::optional<IpAddress> natpmp_public_address(NatPmp& pmp, Deadline deadline, Cancel cancel,
                                               bool* answered) {
  natpmpresp_t resp{};
  if (sendpublicaddressrequest(pmp.get()) < 0) return std::nullopt;
  const int rc = pmp.await(resp, deadline, cancel);
  if (answered) *answered = natpmp_answered(rc);
  if (rc != 0 || resp.type != NATPMP_RESPTYPE_PUBLICADDRESS) return std::nullopt;
  IpAddress ip;
  std::memcpy(ip.bytes.data(), &resp.pnu.publicaddress.addr, 4);
  if (ip == IpAddress{}) return std::nullopt;
  return ip;
}

// A UDP mapping request; lifetime 0 deletes (and then the public port must be 0).
std::optional<PortMapping> natpmp_map(const Gateway& gw, uint16_t internal, uint16_t wanted,
                                      uint32_t lifetime) {
  NatPmp pmp(gw);
  if (!pmp.ok()) return std::nullopt;
  const Deadline deadline = MonoClock::now() + kExchangeTimeout;
  IpAddress public_ip;
  if (lifetime != 0) {
    const auto ip = natpmp_public_address(pmp, deadline, nullptr, nullptr);
    if (!ip) return std::nullopt;
    public_ip = *ip;
  }
  natpmpresp_t resp{};
  int rc;
  // A late copy of the public-address answer may come first; libnatpmp then forgets the
  // request, so it is sent again.
  do {
    if (sendnewportmappingrequest(pmp.get(), NATPMP_PROTOCOL_UDP, internal, lifetime ? wanted : 0,
                                  lifetime) < 0) {
      return std::nullopt;
    }
    rc = pmp.await(resp, deadline, nullptr);
  } while (rc == 0 && resp.type != NATPMP_RESPTYPE_UDPPORTMAPPING);
  if (rc != 0) {
    if (natpmp_answered(rc)) {
      fmt::print(stderr, "qvpn: port mapping: nat-pmp refused: {}\n", strnatpmperr(rc));
    }
    return std::nullopt;
  }
  const auto& m = resp.pnu.newportmapping;
  if (m.privateport != internal) return std::nullopt;
  if (lifetime != 0 && (m.mappedpublicport == 0 || m.lifetime == 0)) return std::nullopt;
  return PortMapping{PortMapProtocol::kNatPmp, Endpoint{public_ip, m.mappedpublicport},
                     std::chrono::seconds(m.lifetime)};
}

// ---- UPnP IGD through miniupnpc ---------------------------------------------------------

struct Igd {
  UPNPUrls urls{};
  IGDdatas data{};
  char lan_address[64] = {};  // ours, as the IGD sees it: the mapping's internal client
  IpAddress external;
  ~Igd() { FreeUPNPUrls(&urls); }
  const char* control() const { return urls.controlURL; }
  const char* service() const { return data.first.servicetype; }
};

// SSDP discovery (waiting about `delay`), then the first connected IGD and its external
// address. nullptr when there is none.
std::unique_ptr<Igd> upnp_find(std::chrono::milliseconds delay) {
  // All types searched at once: upnpDiscover searches one type at a time and, when nobody
  // answers, waits `delay` for each of them.
  static const char* const kTypes[] = {
      "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
      "urn:schemas-upnp-org:device:InternetGatewayDevice:2",
      "urn:schemas-upnp-org:service:WANIPConnection:1",
      "urn:schemas-upnp-org:service:WANIPConnection:2",
      "urn:schemas-upnp-org:service:WANPPPConnection:1",
      nullptr,
  };
  int error = 0;
  UPNPDev* devices = upnpDiscoverDevices(kTypes, static_cast<int>(delay.count()), nullptr, nullptr,
                                         UPNP_LOCAL_PORT_ANY, 0, 2, &error, 1);
  if (!devices) return nullptr;
  auto igd = std::make_unique<Igd>();
  const int found =
      UPNP_GetValidIGD(devices, &igd->urls, &igd->data, igd->lan_address, sizeof igd->lan_address);
  freeUPNPDevlist(devices);
  if (found != 1) return nullptr;  // 2: an IGD that says it is not connected; 3: not an IGD
  char external[64] = {};
  if (UPNP_GetExternalIPAddress(igd->control(), igd->service(), external) != 0) return nullptr;
  const auto ip = IpAddress::parse(external);
  if (!ip || ip->v6 || *ip == IpAddress{}) return nullptr;
  igd->external = *ip;
  return igd;
}

int upnp_add(const Igd& igd, uint16_t internal, uint16_t external, uint32_t lease) {
  const std::string in = std::to_string(internal), ext = std::to_string(external),
                    duration = std::to_string(lease);
  return UPNP_AddPortMapping(igd.control(), igd.service(), ext.c_str(), in.c_str(), igd.lan_address,
                             kUpnpDescription, "UDP", nullptr, duration.c_str());
}

// Adds (or re-adds) a mapping to external port `wanted`; with `alternatives`, when that port
// is taken, tries the next few and then lets the IGD choose (AddAnyPortMapping, IGD v2).
std::optional<PortMapping> upnp_map(const Igd& igd, uint16_t internal, uint16_t wanted,
                                    bool alternatives) {
  uint32_t lease = kUpnpLease;
  const int tries = alternatives ? 1 + kUpnpAlternatePorts : 1;
  for (int i = 0; i < tries; ++i) {
    const auto port = static_cast<uint16_t>(wanted + i);
    if (port == 0) break;
    int rc = upnp_add(igd, internal, port, lease);
    if (rc == kUpnpOnlyPermanentLeases && lease != 0) {
      lease = 0;
      rc = upnp_add(igd, internal, port, lease);
    }
    if (rc == 0) {
      return PortMapping{PortMapProtocol::kUpnp, {igd.external, port}, std::chrono::seconds(lease)};
    }
    if (rc != kUpnpConflict) {
      fmt::print(stderr, "qvpn: port mapping: upnp refused ({})\n", rc);
      return std::nullopt;
    }
  }
  if (!alternatives) return std::nullopt;
  const std::string in = std::to_string(internal), duration = std::to_string(lease);
  char reserved[8] = {};
  if (UPNP_AddAnyPortMapping(igd.control(), igd.service(), in.c_str(), in.c_str(), igd.lan_address,
                             kUpnpDescription, "UDP", nullptr, duration.c_str(), reserved) != 0) {
    return std::nullopt;
  }
  const int port = std::atoi(reserved);
  if (port <= 0 || port > 65535) return std::nullopt;
  return PortMapping{PortMapProtocol::kUpnp,
                     {igd.external, static_cast<uint16_t>(port)},
                     std::chrono::seconds(lease)};
}

bool upnp_delete(const Igd& igd, uint16_t external) {
  const std::string ext = std::to_string(external);
  return UPNP_DeletePortMapping(igd.control(), igd.service(), ext.c_str(), "UDP", nullptr) == 0;
}

// ---- Probing all three at once ----------------------------------------------------------

struct Probe {
  PortMapAnswers answers;
  std::optional<Gateway> gateway;
  std::unique_ptr<Igd> igd;  // when UPnP answered
};

// A UPnP search on a thread of its own, which the prober may abandon: miniupnpc's calls
// cannot be cancelled, and an IGD that answers SSDP and then stalls its HTTP holds them for
// seconds. The search owns everything it touches, so it can finish after the prober is gone.
struct UpnpSearch {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::unique_ptr<Igd> igd;
};

Probe probe(std::chrono::milliseconds timeout, Cancel cancel) {
  Probe p;
  p.gateway = find_gateway();
  if (!p.gateway) return p;
  p.answers.gateway = p.gateway->router;
  const Gateway gw = *p.gateway;
  const Deadline deadline = MonoClock::now() + timeout;

  auto search = std::make_shared<UpnpSearch>();
  // Discovery waits its whole delay for SSDP answers; leave time for the HTTP that follows.
  const auto discovery = std::max<std::chrono::milliseconds>(timeout * 2 / 5, 100ms);
  std::thread([search, discovery] {
    auto igd = upnp_find(discovery);
    std::lock_guard lock(search->mu);
    search->igd = std::move(igd);
    search->done = true;
    search->cv.notify_all();
  }).detach();

  std::thread natpmp([&] {
    NatPmp pmp(gw);
    if (pmp.ok()) natpmp_public_address(pmp, deadline, cancel, &p.answers.natpmp);
  });
  p.answers.pcp = pcp_probe(gw, deadline, cancel);
  natpmp.join();

  std::unique_lock lock(search->mu);
  while (!search->done && !cancelled(cancel) && MonoClock::now() < deadline) {
    search->cv.wait_for(lock, kPollSlice);
  }
  p.igd = std::move(search->igd);
  p.answers.upnp = p.igd != nullptr;
  return p;
}

}  // namespace

std::string_view to_string(PortMapProtocol p) {
  switch (p) {
    case PortMapProtocol::kNatPmp:
      return "nat-pmp";
    case PortMapProtocol::kPcp:
      return "pcp";
    case PortMapProtocol::kUpnp:
      return "upnp";
  }
  return "unknown";
}

PortMapAnswers probe_port_mapping(uint16_t /*internal_port*/, std::chrono::milliseconds timeout) {
  return probe(timeout, nullptr).answers;
}

// ---- The mapper -------------------------------------------------------------------------

class PortMapper::Impl {
 public:
  Impl(uint16_t port, std::function<void(std::optional<PortMapping>)> on_change)
      : port_(port), on_change_(std::move(on_change)), thread_([this] { run(); }) {}

  ~Impl() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cancel_ = true;
    cv_.notify_all();
    thread_.join();
  }

  std::optional<PortMapping> current() const {
    std::lock_guard lock(mu_);
    return current_;
  }
  PortMapAnswers answers() const {
    std::lock_guard lock(mu_);
    return answers_;
  }

 private:
  // What the mapper thread alone needs to renew and delete the mapping it holds.
  struct Held {
    PortMapping mapping;
    Gateway gateway;
    nat::PcpNonce nonce{};     // PCP: renewals and the deletion repeat it
    std::unique_ptr<Igd> igd;  // UPnP
  };

  void run() {
    Deadline next = MonoClock::now();
    while (wait_until(next)) {
      if (held_ && renew()) {
        next = MonoClock::now() + renew_interval();
        continue;
      }
      const std::optional<PortMapping> before =
          held_ ? std::optional(held_->mapping) : std::nullopt;
      held_.reset();  // a failed renewal: the mapping is gone
      acquire();
      if (held_) {
        next = MonoClock::now() + renew_interval();
        if (held_->mapping != before) publish(held_->mapping);
      } else {
        next = MonoClock::now() + kRetryInterval;
        if (before) publish(std::nullopt);
      }
    }
    release();
  }

  // Waits on the condition variable in slices, so that time spent suspended counts (the
  // clock is CLOCK_BOOTTIME; the condition variable's is not). False once stopping.
  bool wait_until(Deadline deadline) {
    std::unique_lock lock(mu_);
    while (!stop_) {
      const auto now = MonoClock::now();
      if (now >= deadline) return true;
      cv_.wait_for(lock, std::min<platform::Duration>(deadline - now, kRetryInterval));
    }
    return false;
  }

  std::chrono::seconds renew_interval() const {
    const auto life = held_->mapping.lifetime;
    if (life == 0s) return std::chrono::duration_cast<std::chrono::seconds>(kPermanentRecheck);
    return std::max<std::chrono::seconds>(life / 2, kMinRenewInterval);
  }

  void acquire() {
    Probe p = probe(kProbeTimeout, &cancel_);
    {
      std::lock_guard lock(mu_);
      answers_ = p.answers;
    }
    if (!p.gateway || cancel_) return;
    const Endpoint same_port{IpAddress{}, port_};
    if (p.answers.pcp) {
      Held h{{}, *p.gateway, {}, nullptr};
      dataplane::random_bytes(h.nonce);
      if (auto m = pcp_map(h.gateway, h.nonce, port_, same_port, kRequestedLifetime)) {
        h.mapping = *m;
        held_ = std::move(h);
        return;
      }
    }
    if (p.answers.natpmp && !cancel_) {
      if (auto m = natpmp_map(*p.gateway, port_, port_, kRequestedLifetime)) {
        held_ = Held{*m, *p.gateway, {}, nullptr};
        return;
      }
    }
    if (p.igd && !cancel_) {
      if (auto m = upnp_map(*p.igd, port_, port_, true)) {
        held_ = Held{*m, *p.gateway, {}, std::move(p.igd)};
      }
    }
  }

  // The same request again, for the external port we hold. False if the gateway changed
  // or refused.
  bool renew() {
    const auto gw = find_gateway();
    if (!gw || gw->router != held_->gateway.router || gw->local != held_->gateway.local) {
      return false;
    }
    const PortMapping& old = held_->mapping;
    std::optional<PortMapping> m;
    switch (old.protocol) {
      case PortMapProtocol::kPcp:
        m = pcp_map(held_->gateway, held_->nonce, port_, old.external, kRequestedLifetime);
        break;
      case PortMapProtocol::kNatPmp:
        m = natpmp_map(held_->gateway, port_, old.external.port, kRequestedLifetime);
        break;
      case PortMapProtocol::kUpnp:
        m = upnp_map(*held_->igd, port_, old.external.port, false);
        break;
    }
    if (!m) return false;
    if (m->external != old.external) {
      held_->mapping = *m;
      publish(*m);
    } else {
      held_->mapping.lifetime = m->lifetime;
      std::lock_guard lock(mu_);
      current_ = held_->mapping;
    }
    return true;
  }

  // Best effort, bounded by the exchanges' own timeouts.
  void release() {
    if (!held_) return;
    const PortMapping& m = held_->mapping;
    bool deleted = false;
    switch (m.protocol) {
      case PortMapProtocol::kPcp:
        deleted = pcp_map(held_->gateway, held_->nonce, port_, m.external, 0).has_value();
        break;
      case PortMapProtocol::kNatPmp:
        deleted = natpmp_map(held_->gateway, port_, 0, 0).has_value();
        break;
      case PortMapProtocol::kUpnp:
        deleted = upnp_delete(*held_->igd, m.external.port);
        break;
    }
    fmt::print(stderr, "qvpn: port mapping: {} {} {}\n", deleted ? "deleted" : "could not delete",
               to_string(m.protocol), m.external.to_string());
    held_.reset();
    std::lock_guard lock(mu_);
    current_.reset();
  }

  void publish(std::optional<PortMapping> m) {
    if (m) {
      fmt::print(stderr, "qvpn: port mapping: {} maps {} to port {} for {} s\n",
                 to_string(m->protocol), m->external.to_string(), port_, m->lifetime.count());
    } else {
      std::optional<PortMapping> lost = current();
      fmt::print(stderr, "qvpn: port mapping: lost {}\n",
                 lost ? fmt::format("{} {}", to_string(lost->protocol), lost->external.to_string())
                      : std::string("the mapping"));
    }
    {
      std::lock_guard lock(mu_);
      current_ = m;
      if (stop_) return;
    }
    if (on_change_) on_change_(m);
  }

  const uint16_t port_;
  const std::function<void(std::optional<PortMapping>)> on_change_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                   // guarded by mu_
  std::atomic<bool> cancel_ = false;    // stop_, for exchanges that poll without the lock
  std::optional<PortMapping> current_;  // guarded by mu_
  PortMapAnswers answers_;              // guarded by mu_
  std::optional<Held> held_;            // the mapper thread's own
  std::thread thread_;                  // last: starts once everything above exists
};

PortMapper::PortMapper(uint16_t internal_port,
                       std::function<void(std::optional<PortMapping>)> on_change)
    : impl_(std::make_unique<Impl>(internal_port, std::move(on_change))) {}

PortMapper::~PortMapper() = default;

std::optional<PortMapping> PortMapper::current() const { return impl_->current(); }
PortMapAnswers PortMapper::answers() const { return impl_->answers(); }

}  // namespace qvpn::core
