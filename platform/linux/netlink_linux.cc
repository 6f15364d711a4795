// Request flow: build one message (netlink header, family header, attributes), send it to the
// kernel, then read replies carrying our sequence number until the ACK (an NLMSG_ERROR whose
// error is 0 or -errno) or, for dumps, NLMSG_DONE.
#include <linux/fib_rules.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <optional>
#include <system_error>
#include <vector>

#include "platform/netlink.h"

namespace qvpn::platform {
namespace {

static_assert(kRouteTableMain == RT_TABLE_MAIN);

constexpr size_t kReceiveBufferSize = 64 * 1024;  // more than one dump skb (at most 32 KiB)

[[noreturn]] void fail(int err, const std::string& what, const std::string& detail = {}) {
  std::string msg = what;
  if (!detail.empty()) msg += " (kernel: " + detail + ")";
  throw std::system_error(err, std::system_category(), msg);
}

std::string prefix_text(const IpAddress& a, uint8_t len) {
  return a.to_string() + "/" + std::to_string(len);
}

class Request {
 public:
  // `flags` beyond NLM_F_REQUEST, which is always set; non-dump requests also ask for an ACK.
  template <class FamilyHeader>
  Request(uint16_t type, uint16_t flags, bool dump, const FamilyHeader& family) : dump_(dump) {
    auto* h = hdr();
    h->nlmsg_len = NLMSG_LENGTH(sizeof(FamilyHeader));
    h->nlmsg_type = type;
    h->nlmsg_flags = NLM_F_REQUEST | flags | (dump ? NLM_F_DUMP : NLM_F_ACK);
    std::memcpy(NLMSG_DATA(h), &family, sizeof family);
  }

  void attr(uint16_t type, const void* data, size_t len) {
    auto* h = hdr();
    size_t at = NLMSG_ALIGN(h->nlmsg_len);
    size_t total = RTA_LENGTH(len);
    if (at + RTA_ALIGN(total) > buf_.size()) fail(EMSGSIZE, "netlink request too large");
    auto* rta = reinterpret_cast<rtattr*>(buf_.data() + at);
    rta->rta_type = type;
    rta->rta_len = static_cast<unsigned short>(total);
    std::memcpy(RTA_DATA(rta), data, len);
    h->nlmsg_len = static_cast<uint32_t>(at + RTA_ALIGN(total));
  }
  void attr_u32(uint16_t type, uint32_t v) { attr(type, &v, sizeof v); }
  void attr_ip(uint16_t type, const IpAddress& a) { attr(type, a.bytes.data(), a.size()); }

  nlmsghdr* hdr() { return reinterpret_cast<nlmsghdr*>(buf_.data()); }
  bool dump() const { return dump_; }

 private:
  alignas(nlmsghdr) std::array<uint8_t, 512> buf_{};
  bool dump_;
};

using ReplyFn = std::function<void(const nlmsghdr&)>;

// The kernel's extended-ACK message, if the error reply carries one.
std::string ext_ack_text(const nlmsghdr& h) {
  if (!(h.nlmsg_flags & NLM_F_ACK_TLVS)) return {};
  const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(&h));
  // Without NETLINK_CAP_ACK the whole failed request is echoed before the TLVs.
  size_t offset = sizeof(nlmsgerr);
  if (!(h.nlmsg_flags & NLM_F_CAPPED)) offset += err->msg.nlmsg_len - sizeof(nlmsghdr);
  offset = NLMSG_ALIGN(offset);
  size_t payload = h.nlmsg_len - NLMSG_HDRLEN;
  const auto* base = static_cast<const uint8_t*>(NLMSG_DATA(&h));
  while (offset + sizeof(nlattr) <= payload) {
    nlattr a;
    std::memcpy(&a, base + offset, sizeof a);
    if (a.nla_len < sizeof(nlattr) || offset + a.nla_len > payload) break;
    if ((a.nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
      const char* s = reinterpret_cast<const char*>(base + offset + NLA_HDRLEN);
      return std::string(s, strnlen(s, a.nla_len - NLA_HDRLEN));
    }
    offset += NLA_ALIGN(a.nla_len);
  }
  return {};
}

// One NETLINK_ROUTE socket for the duration of one call.
class RtnlSocket {
 public:
  explicit RtnlSocket(const std::string& what) {
    fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd_ < 0) fail(errno, what + ": netlink socket");
    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) < 0) {
      int err = errno;
      ::close(fd_);
      fail(err, what + ": netlink bind");
    }
    // Best effort: ask for the kernel's error text, and for short error replies.
    int one = 1;
    setsockopt(fd_, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
    setsockopt(fd_, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  }
  ~RtnlSocket() { ::close(fd_); }
  RtnlSocket(const RtnlSocket&) = delete;
  RtnlSocket& operator=(const RtnlSocket&) = delete;

  // Returns 0 or a positive errno; `detail` gets the extended-ACK text of a failure.
  int transact(Request& req, const ReplyFn& on_reply, std::string& detail) {
    static std::atomic<uint32_t> next_seq{static_cast<uint32_t>(getpid()) << 16};
    nlmsghdr* h = req.hdr();
    h->nlmsg_seq = ++next_seq;
    uint32_t seq = h->nlmsg_seq;

    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    ssize_t sent;
    do {
      sent = sendto(fd_, h, h->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) return errno;

    std::vector<uint8_t> buf(kReceiveBufferSize);
    for (;;) {
      sockaddr_nl from{};
      iovec iov{buf.data(), buf.size()};
      msghdr msg{};
      msg.msg_name = &from;
      msg.msg_namelen = sizeof from;
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      ssize_t n = recvmsg(fd_, &msg, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno;
      }
      if (msg.msg_flags & MSG_TRUNC) return EMSGSIZE;
      if (from.nl_pid != 0) continue;  // only the kernel speaks for itself

      int len = static_cast<int>(n);
      // NLMSG_OK (linux/netlink.h) compares the u32 nlmsg_len with the int it is given;
      // clang warns inside the kernel's macro, which is correct as written.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
      for (auto* r = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(r, len);
           r = NLMSG_NEXT(r, len)) {
#pragma GCC diagnostic pop
        if (r->nlmsg_seq != seq) continue;
        if (r->nlmsg_type == NLMSG_ERROR) {
          if (r->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return EBADMSG;
          int error = static_cast<const nlmsgerr*>(NLMSG_DATA(r))->error;
          if (error != 0) detail = ext_ack_text(*r);
          return -error;
        }
        if (r->nlmsg_type == NLMSG_DONE) {
          int error = 0;
          if (r->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
            std::memcpy(&error, NLMSG_DATA(r), sizeof error);
          }
          return -error;
        }
        if (r->nlmsg_type == NLMSG_NOOP) continue;
        if (on_reply) on_reply(*r);
      }
    }
  }

 private:
  int fd_ = -1;
};

// Sends `req` and throws on failure; `what` describes the request for the message.
void run(Request& req, const std::string& what, const ReplyFn& on_reply = {}) {
  RtnlSocket sock(what);
  std::string detail;
  int err = sock.transact(req, on_reply, detail);
  if (err != 0) fail(err, what, detail);
}

// Visits each attribute of a message whose family header is `header_len` bytes.
template <class Fn>
void for_each_attr(const nlmsghdr& h, size_t header_len, Fn&& fn) {
  if (h.nlmsg_len < NLMSG_LENGTH(header_len)) return;
  auto* rta = reinterpret_cast<const rtattr*>(static_cast<const uint8_t*>(NLMSG_DATA(&h)) +
                                              NLMSG_ALIGN(header_len));
  int len = static_cast<int>(h.nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(header_len)));
  for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
    fn(rta->rta_type, RTA_DATA(rta), RTA_PAYLOAD(rta));
  }
}

uint8_t max_prefix(const IpAddress& a) { return a.v6 ? 128 : 32; }

void check_prefix(const IpAddress& a, uint8_t len, const std::string& what) {
  if (len > max_prefix(a)) fail(EINVAL, what + ": prefix length out of range");
}

IpAddress network_part(const IpAddress& a, uint8_t len) {
  IpAddress out = a;
  for (size_t i = 0; i < out.size(); ++i) {
    size_t bits_before = i * 8;
    if (bits_before >= len) {
      out.bytes[i] = 0;
    } else if (len - bits_before < 8) {
      out.bytes[i] &= static_cast<uint8_t>(0xff00 >> (len - bits_before));
    }
  }
  return out;
}

IpAddress address_from(const void* data, size_t len, bool v6) {
  IpAddress a;
  a.v6 = v6;
  std::memcpy(a.bytes.data(), data, std::min(len, a.size()));
  return a;
}

// Looks the link up by name; a failure, ENODEV included, is reported as `what`.
LinkInfo get_link(std::string_view ifname, const std::string& what) {
  // IFNAMSIZ includes the terminator; a longer name cannot exist.
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) fail(ENODEV, what);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  Request req(RTM_GETLINK, 0, false, ifi);
  std::string name(ifname);
  req.attr(IFLA_IFNAME, name.c_str(), name.size() + 1);

  LinkInfo info;
  run(req, what, [&](const nlmsghdr& h) {
    if (h.nlmsg_type != RTM_NEWLINK || h.nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) return;
    const auto* msg = static_cast<const ifinfomsg*>(NLMSG_DATA(&h));
    info.index = msg->ifi_index;
    info.up = msg->ifi_flags & IFF_UP;
    info.running = msg->ifi_flags & IFF_RUNNING;
    for_each_attr(h, sizeof(ifinfomsg), [&](uint16_t type, const void* data, size_t len) {
      if (type == IFLA_MTU && len >= sizeof(uint32_t)) {
        uint32_t mtu;
        std::memcpy(&mtu, data, sizeof mtu);
        info.mtu = static_cast<int>(mtu);
      }
    });
  });
  if (info.index <= 0) fail(ENODEV, what);
  return info;
}

// RTM_NEWLINK without NLM_F_CREATE changes the existing link named by ifi_index.
void modify_link(const ifinfomsg& ifi, const std::string& what, int mtu = 0) {
  Request req(RTM_NEWLINK, 0, false, ifi);
  if (mtu > 0) req.attr_u32(IFLA_MTU, static_cast<uint32_t>(mtu));
  run(req, what);
}

void modify_address(uint16_t type, uint16_t flags, std::string_view ifname,
                    const IpAddress& address, uint8_t prefix_len, const std::string& what) {
  check_prefix(address, prefix_len, what);
  ifaddrmsg ifa{};
  ifa.ifa_family = address.v6 ? AF_INET6 : AF_INET;
  ifa.ifa_prefixlen = prefix_len;
  ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  ifa.ifa_index = static_cast<uint32_t>(get_link(ifname, what).index);
  if (address.v6 && type == RTM_NEWADDR) ifa.ifa_flags = IFA_F_NODAD;
  Request req(type, flags, false, ifa);
  // Both, as `ip addr add` sends them: LOCAL is the address itself, ADDRESS the peer on
  // point-to-point links, equal to LOCAL when there is no separate peer.
  req.attr_ip(IFA_LOCAL, address);
  req.attr_ip(IFA_ADDRESS, address);
  run(req, what);
}

void modify_route(uint16_t type, uint16_t flags, std::string_view ifname, const IpAddress& dst,
                  uint8_t prefix_len, uint32_t table, const std::string& what) {
  check_prefix(dst, prefix_len, what);
  rtmsg rtm{};
  rtm.rtm_family = dst.v6 ? AF_INET6 : AF_INET;
  rtm.rtm_dst_len = prefix_len;
  // rtm_table is 8 bits; larger table ids travel only in RTA_TABLE.
  rtm.rtm_table = static_cast<uint8_t>(table < 256 ? table : uint32_t{RT_TABLE_UNSPEC});
  if (type == RTM_NEWROUTE) {
    rtm.rtm_protocol = RTPROT_BOOT;  // what `ip route add` (and so wg-quick) installs
    rtm.rtm_scope = RT_SCOPE_LINK;   // directly reachable through the link, no gateway
    rtm.rtm_type = RTN_UNICAST;
  } else {
    // Deletion matches on the fields that are set; leave the rest as wildcards.
    rtm.rtm_protocol = RTPROT_UNSPEC;
    rtm.rtm_scope = RT_SCOPE_NOWHERE;
    rtm.rtm_type = RTN_UNSPEC;
  }
  int index = get_link(ifname, what).index;
  Request req(type, flags, false, rtm);
  if (prefix_len > 0) req.attr_ip(RTA_DST, network_part(dst, prefix_len));
  req.attr_u32(RTA_OIF, static_cast<uint32_t>(index));
  req.attr_u32(RTA_TABLE, table);
  run(req, what);
}

void modify_rule(uint16_t type, uint16_t flags, const RoutingRule& r, const std::string& what) {
  fib_rule_hdr frh{};
  frh.family = r.v6 ? AF_INET6 : AF_INET;
  frh.action = FR_ACT_TO_TBL;
  frh.table = static_cast<uint8_t>(r.table < 256 ? r.table : uint32_t{RT_TABLE_UNSPEC});
  if (r.not_fwmark) frh.flags |= FIB_RULE_INVERT;
  Request req(type, flags, false, frh);
  req.attr_u32(FRA_TABLE, r.table);
  if (r.not_fwmark) req.attr_u32(FRA_FWMARK, *r.not_fwmark);
  if (r.suppress_prefixlength) req.attr_u32(FRA_SUPPRESS_PREFIXLEN, *r.suppress_prefixlength);
  run(req, what);
}

std::string rule_text(const char* verb, const RoutingRule& r) {
  std::string out = std::string(verb) + (r.v6 ? " -6" : " -4") + " rule";
  if (r.not_fwmark) out += " not fwmark " + std::to_string(*r.not_fwmark);
  out += " table " + std::to_string(r.table);
  if (r.suppress_prefixlength) {
    out += " suppress_prefixlength " + std::to_string(*r.suppress_prefixlength);
  }
  return out;
}

std::string route_text(const char* verb, std::string_view ifname, const IpAddress& dst,
                       uint8_t prefix_len, uint32_t table) {
  IpAddress net = prefix_len <= max_prefix(dst) ? network_part(dst, prefix_len) : dst;
  return std::string(verb) + " " + prefix_text(net, prefix_len) + " dev " + std::string(ifname) +
         " table " + std::to_string(table);
}

}  // namespace

LinkInfo link_info(std::string_view ifname) {
  return get_link(ifname, "link " + std::string(ifname));
}

int link_index(std::string_view ifname) { return link_info(ifname).index; }

void set_link_mtu(std::string_view ifname, int mtu) {
  std::string what = "set mtu " + std::to_string(mtu) + " on " + std::string(ifname);
  if (mtu <= 0) fail(EINVAL, what);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = get_link(ifname, what).index;
  modify_link(ifi, what, mtu);
}

void set_link_up(std::string_view ifname, bool up) {
  std::string what = "set link " + std::string(ifname) + (up ? " up" : " down");
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = get_link(ifname, what).index;
  ifi.ifi_flags = up ? IFF_UP : 0;
  ifi.ifi_change = IFF_UP;
  modify_link(ifi, what);
}

void delete_link(std::string_view ifname) {
  std::string what = "delete link " + std::string(ifname);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = get_link(ifname, what).index;
  Request req(RTM_DELLINK, 0, false, ifi);
  run(req, what);
}

void add_address(std::string_view ifname, const IpAddress& address, uint8_t prefix_len) {
  modify_address(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, ifname, address, prefix_len,
                 "add address " + prefix_text(address, prefix_len) + " to " + std::string(ifname));
}

void del_address(std::string_view ifname, const IpAddress& address, uint8_t prefix_len) {
  modify_address(
      RTM_DELADDR, 0, ifname, address, prefix_len,
      "delete address " + prefix_text(address, prefix_len) + " from " + std::string(ifname));
}

void add_route(std::string_view ifname, const IpAddress& dst, uint8_t prefix_len, uint32_t table) {
  modify_route(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, ifname, dst, prefix_len, table,
               route_text("add route", ifname, dst, prefix_len, table));
}

void del_route(std::string_view ifname, const IpAddress& dst, uint8_t prefix_len, uint32_t table) {
  modify_route(RTM_DELROUTE, 0, ifname, dst, prefix_len, table,
               route_text("delete route", ifname, dst, prefix_len, table));
}

void add_rule(const RoutingRule& rule) {
  try {
    modify_rule(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, rule, rule_text("add", rule));
  } catch (const std::system_error& e) {
    if (e.code().value() != EEXIST) throw;
  }
}

void del_rule(const RoutingRule& rule) {
  modify_rule(RTM_DELRULE, 0, rule, rule_text("delete", rule));
}

std::vector<InterfaceAddress> list_addresses(std::string_view ifname) {
  std::string what = "list addresses of " + std::string(ifname);
  int index = get_link(ifname, what).index;
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_UNSPEC;
  Request req(RTM_GETADDR, 0, true, ifa);
  std::vector<InterfaceAddress> out;
  run(req, what, [&](const nlmsghdr& h) {
    if (h.nlmsg_type != RTM_NEWADDR || h.nlmsg_len < NLMSG_LENGTH(sizeof(ifaddrmsg))) return;
    const auto* msg = static_cast<const ifaddrmsg*>(NLMSG_DATA(&h));
    if (static_cast<int>(msg->ifa_index) != index) return;
    if (msg->ifa_family != AF_INET && msg->ifa_family != AF_INET6) return;
    bool v6 = msg->ifa_family == AF_INET6;
    std::optional<IpAddress> local, address;
    for_each_attr(h, sizeof(ifaddrmsg), [&](uint16_t type, const void* data, size_t len) {
      if (len < (v6 ? 16u : 4u)) return;
      if (type == IFA_LOCAL) local = address_from(data, len, v6);
      if (type == IFA_ADDRESS) address = address_from(data, len, v6);
    });
    // On point-to-point links IFA_ADDRESS is the peer; IFA_LOCAL is ours when present.
    if (local) {
      out.push_back({*local, msg->ifa_prefixlen});
    } else if (address) {
      out.push_back({*address, msg->ifa_prefixlen});
    }
  });
  return out;
}

std::vector<Route> list_routes(std::string_view ifname, uint32_t table) {
  std::string what = "list routes of " + std::string(ifname);
  int index = get_link(ifname, what).index;
  rtmsg rtm{};
  rtm.rtm_family = AF_UNSPEC;
  Request req(RTM_GETROUTE, 0, true, rtm);
  std::vector<Route> out;
  run(req, what, [&](const nlmsghdr& h) {
    if (h.nlmsg_type != RTM_NEWROUTE || h.nlmsg_len < NLMSG_LENGTH(sizeof(rtmsg))) return;
    const auto* msg = static_cast<const rtmsg*>(NLMSG_DATA(&h));
    if (msg->rtm_family != AF_INET && msg->rtm_family != AF_INET6) return;
    if (msg->rtm_type != RTN_UNICAST) return;
    bool v6 = msg->rtm_family == AF_INET6;
    Route r;
    r.dst.v6 = v6;
    r.prefix_len = msg->rtm_dst_len;
    r.table = msg->rtm_table;
    int oif = 0;
    for_each_attr(h, sizeof(rtmsg), [&](uint16_t type, const void* data, size_t len) {
      if (type == RTA_DST && len >= (v6 ? 16u : 4u)) r.dst = address_from(data, len, v6);
      if (type == RTA_TABLE && len >= sizeof(uint32_t)) std::memcpy(&r.table, data, sizeof r.table);
      if (type == RTA_OIF && len >= sizeof(int)) std::memcpy(&oif, data, sizeof oif);
    });
    if (oif == index && r.table == table) out.push_back(r);
  });
  return out;
}

}  // namespace qvpn::platform
