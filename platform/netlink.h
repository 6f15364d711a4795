#pragma once
// Interface configuration through rtnetlink (a NETLINK_ROUTE socket): link state and MTU,
// addresses and routes. This is what `ip link/addr/route` do, without spawning them.
//
// Every call opens its own socket, sends one request and waits for the kernel's answer, so
// calls are independent and may come from any thread. Failures throw std::system_error whose
// code is the kernel's errno and whose message names the call, interface and address, plus
// the kernel's own explanation when it gives one (extended ACK), e.g.
//   "add route 10.78.0.0/16 dev qvpn0 table 254 (kernel: Device for nexthop is not up):
//    Network is down"
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "platform/endpoint.h"

namespace qvpn::platform {

inline constexpr uint32_t kRouteTableMain = 254;  // RT_TABLE_MAIN

struct LinkInfo {
  int index = 0;
  int mtu = 0;
  bool up = false;       // administratively up (IFF_UP)
  bool running = false;  // up and carrier present (IFF_RUNNING); a TUN has carrier while open
};

// A unicast route out of an interface, e.g. 10.78.0.0/16 (host bits zero).
struct Route {
  IpAddress dst;
  uint8_t prefix_len = 0;
  uint32_t table = kRouteTableMain;
  bool operator==(const Route&) const = default;
};

// The interface's index; throws std::system_error(ENODEV) if there is no such interface.
int link_index(std::string_view ifname);
LinkInfo link_info(std::string_view ifname);

void set_link_mtu(std::string_view ifname, int mtu);
void set_link_up(std::string_view ifname, bool up);
// Deletes the interface (works for TUN, veth, dummy, ...). An open TunDevice's fd is then
// detached from it.
void delete_link(std::string_view ifname);

// Adds `address`/`prefix_len` to the interface; adding an address that is already there is
// not an error. The kernel also adds the prefix route for it. IPv6 addresses skip duplicate
// address detection: a point-to-point tunnel has no neighbours to collide with, and the address
// should be usable at once.
void add_address(std::string_view ifname, const IpAddress& address, uint8_t prefix_len);
void del_address(std::string_view ifname, const IpAddress& address, uint8_t prefix_len);

// Routes dst/prefix_len (host bits of `dst` are ignored) out of the interface, with no
// gateway: a TUN has no next hop. Replaces an existing route to the same prefix in that table.
// IPv4 routes need the link to be up (the kernel refuses with ENETDOWN otherwise).
void add_route(std::string_view ifname, const IpAddress& dst, uint8_t prefix_len,
               uint32_t table = kRouteTableMain);
void del_route(std::string_view ifname, const IpAddress& dst, uint8_t prefix_len,
               uint32_t table = kRouteTableMain);

// Current state, read back from the kernel: every IPv4 and IPv6 address of the interface
// (including the kernel's own fe80:: link-local address), and the unicast routes in `table`
// whose output interface is this one (including the prefix routes the kernel adds for
// addresses).
// A policy routing rule, of the two kinds a full tunnel needs (as wg-quick makes them):
//   not fwmark MARK lookup TABLE          (not_fwmark set)
//   lookup TABLE suppress_prefixlength N  (suppress_prefixlength set)
struct RoutingRule {
  bool v6 = false;
  uint32_t table = kRouteTableMain;
  std::optional<uint32_t> not_fwmark;
  std::optional<uint8_t> suppress_prefixlength;
};
// Adding a rule that already exists succeeds (a node that crashed may have left it).
void add_rule(const RoutingRule& rule);
void del_rule(const RoutingRule& rule);

std::vector<InterfaceAddress> list_addresses(std::string_view ifname);
std::vector<Route> list_routes(std::string_view ifname, uint32_t table = kRouteTableMain);

}  // namespace qvpn::platform
