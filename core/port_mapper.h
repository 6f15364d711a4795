#pragma once
// Port mapping for the WireGuard UDP port: asks the IPv4 default gateway, with NAT-PMP
// (RFC 6886, libnatpmp), PCP (RFC 6887, nat/pcp.h) and UPnP IGD (miniupnpc), to forward an
// external port to it, so that peers can reach this node directly; the mapped address becomes
// a candidate endpoint.
//
// Flow: probe the three protocols together without creating anything (NAT-PMP public-address
// request, PCP ANNOUNCE, UPnP discovery and GetExternalIPAddress); then map with the first of
// PCP, NAT-PMP, UPnP that answered and succeeds. (Mapping with several at once is not safe:
// one router keeps one rule per port, so deleting the losers' mappings would delete the
// winner's.) Renew at half the granted lifetime, asking for the same external port; when a
// renewal fails, start over; when nothing works, start over every 60 s. Delete on shutdown.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "platform/endpoint.h"

namespace qvpn::core {

enum class PortMapProtocol { kNatPmp, kPcp, kUpnp };
std::string_view to_string(PortMapProtocol p);  // "nat-pmp", "pcp", "upnp"

struct PortMapping {
  PortMapProtocol protocol = PortMapProtocol::kPcp;
  platform::Endpoint external;      // the gateway's public address and the port it forwards
  std::chrono::seconds lifetime{};  // as granted; 0 for a UPnP lease without expiry
  bool operator==(const PortMapping&) const = default;
};

// Which protocols the gateway answered (an error answer counts: the protocol is spoken).
struct PortMapAnswers {
  bool natpmp = false, pcp = false, upnp = false;
  std::optional<platform::IpAddress> gateway;  // the default gateway asked; nullopt if none
};

// Blocking, for `qvpn netcheck`: asks all three protocols at once whether the gateway
// answers them, and returns within `timeout`. Creates no mapping: the probes are requests
// that change nothing, so `internal_port` (the port that would be mapped) does not go on the
// wire today. A UPnP search still waiting on a device that stalls its HTTP replies when the
// time is up is abandoned: it ends on miniupnpc's socket timeouts (seconds), unanswered.
PortMapAnswers probe_port_mapping(
    uint16_t internal_port, std::chrono::milliseconds timeout = std::chrono::milliseconds(2500));

// Keeps a mapping of UDP `internal_port` for as long as it lives. Owns one thread; never
// blocks the caller, except the destructor.
class PortMapper {
 public:
  // on_change runs on the mapper's thread when the mapping is made, when its external
  // endpoint changes (not on a plain renewal), and with nullopt when it is lost; never once
  // the destructor has begun.
  PortMapper(uint16_t internal_port, std::function<void(std::optional<PortMapping>)> on_change);
  // Deletes the mapping (best effort, about 2 s at most) and joins the thread. An exchange
  // that is creating a mapping when destruction begins finishes first (at most 2 s), so that
  // what it created is deleted too.
  ~PortMapper();
  PortMapper(const PortMapper&) = delete;
  PortMapper& operator=(const PortMapper&) = delete;

  std::optional<PortMapping> current() const;
  PortMapAnswers answers() const;  // what the last probe found

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qvpn::core
