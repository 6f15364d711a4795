#pragma once
// The IPv4 default gateway and this host's address toward it: where port-mapping requests
// (NAT-PMP, PCP, UPnP) go, and the client address PCP must state.
#include <optional>
#include <string>
#include <string_view>

#include "platform/endpoint.h"

namespace qvpn::platform {

struct DefaultRoute {
  std::string interface;
  IpAddress gateway;  // IPv4
  bool operator==(const DefaultRoute&) const = default;
};

// The default route with a gateway and the lowest metric in the text of /proc/net/route
// (which lists the main table only: a VPN's default route in a policy-routing table does not
// hide the real gateway). Routes that are down or have no gateway are skipped; malformed lines
// are ignored. Addresses there are hex in host byte order, as the kernel prints them.
std::optional<DefaultRoute> parse_default_route(std::string_view proc_net_route);

// parse_default_route of this host's /proc/net/route; nullopt if it cannot be read.
std::optional<DefaultRoute> default_route_v4();

// The source address the kernel would use toward `dest` (a connected UDP socket's local
// address; nothing is sent). nullopt when there is no route.
std::optional<IpAddress> source_address_toward(const IpAddress& dest);

}  // namespace qvpn::platform
