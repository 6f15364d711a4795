// TUN devices and rtnetlink against the real kernel. Each case runs in a child process inside a
// network namespace of its own, so nothing here can touch the host's interfaces, addresses or
// routes, and everything the case created vanishes with the child even when a check fails.
// The child reports through its exit status (and prints what failed); the parent CHECKs it.
#include <doctest/doctest.h>
#include <poll.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <system_error>
#include <vector>

#include "platform/netlink.h"
#include "platform/tun.h"
#include "platform/udp_socket.h"

namespace plat = qvpn::platform;
using plat::Endpoint;
using plat::IpAddress;

namespace {

constexpr int kChildSkip = 77;

#define CHILD_CHECK(cond)                                                                   \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "%s:%d: in netns child: check failed: %s\n", __FILE__, __LINE__, \
                   #cond);                                                                  \
      return 1;                                                                             \
    }                                                                                       \
  } while (0)

// Runs `body` in a forked child inside a fresh network namespace; returns its exit status.
int run_in_netns(const std::function<int()>& body) {
  std::fflush(nullptr);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    alarm(60);  // a hung child must not hang the suite
    if (unshare(CLONE_NEWNET) != 0) {
      std::fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", std::strerror(errno));
      _exit(kChildSkip);
    }
    int rc = 1;
    try {
      rc = body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "in netns child: exception: %s\n", e.what());
    }
    std::fflush(nullptr);
    _exit(rc);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    MESSAGE("netns child killed by signal " << WTERMSIG(status));
    return 128 + WTERMSIG(status);
  }
  return WEXITSTATUS(status);
}

// True if the suite can create TUN devices in namespaces here; otherwise says why.
bool can_run() {
  if (geteuid() != 0) {
    MESSAGE("skipped: needs root for network namespaces and TUN");
    return false;
  }
  if (!plat::tun_available()) {
    MESSAGE("skipped: /dev/net/tun is not available");
    return false;
  }
  return true;
}

void check_child(const std::function<int()>& body) {
  int rc = run_in_netns(body);
  if (rc == kChildSkip) {
    MESSAGE("skipped: cannot create a network namespace here");
    return;
  }
  CHECK(rc == 0);
}

IpAddress ip(const char* text) {
  auto a = IpAddress::parse(text);
  if (!a) throw std::invalid_argument(text);
  return *a;
}

template <class T>
bool contains(const std::vector<T>& v, const T& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

bool throws_errno(const std::function<void()>& fn, int err, const std::string& mentions) {
  try {
    fn();
  } catch (const std::system_error& e) {
    if (e.code().value() == err && std::string(e.what()).find(mentions) != std::string::npos) {
      return true;
    }
    std::fprintf(stderr, "unexpected error (wanted errno %d naming %s): %s\n", err,
                 mentions.c_str(), e.what());
    return false;
  }
  std::fprintf(stderr, "no error thrown (wanted errno %d naming %s)\n", err, mentions.c_str());
  return false;
}

// /proc/net is per network namespace (unlike /sys, which shows the namespace it was mounted in).
bool in_proc_if_inet6(const std::string& hex, const std::string& ifname) {
  std::ifstream f("/proc/net/if_inet6");
  std::string addr, idx, plen, scope, flags, name;
  while (f >> addr >> idx >> plen >> scope >> flags >> name) {
    if (addr == hex && name == ifname) return true;
  }
  return false;
}

// The usual TUN setup of a node: MTU, up, one address per family, one route per family.
plat::TunDevice make_configured_tun(bool offload = false) {
  auto tun = plat::TunDevice::create("qvpn%d", offload);
  plat::set_link_mtu(tun.name(), 1420);
  plat::set_link_up(tun.name(), true);
  plat::add_address(tun.name(), ip("10.77.0.1"), 24);
  plat::add_address(tun.name(), ip("fd77::1"), 64);
  plat::add_route(tun.name(), ip("10.78.0.0"), 16);
  plat::add_route(tun.name(), ip("fd78::"), 32);
  return tun;
}

uint16_t load16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
void store16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

// RFC 1071 ones'-complement sum, folded, not yet inverted.
uint32_t sum16(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += load16(p + i);
  if (n & 1) sum += static_cast<uint32_t>(p[n - 1]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}

// A complete IPv4 or IPv6 UDP packet from `src` to `dst`, checksums filled in.
std::vector<uint8_t> udp_packet(const Endpoint& src, const Endpoint& dst, const std::string& data) {
  const size_t ip_len = src.ip.v6 ? 40 : 20;
  const size_t udp_len = 8 + data.size();
  std::vector<uint8_t> p(ip_len + udp_len, 0);
  uint8_t* udp = p.data() + ip_len;
  store16(udp, src.port);
  store16(udp + 2, dst.port);
  store16(udp + 4, static_cast<uint16_t>(udp_len));
  std::memcpy(udp + 8, data.data(), data.size());

  std::vector<uint8_t> pseudo;  // source, destination, zero, protocol, UDP length
  pseudo.insert(pseudo.end(), src.ip.bytes.begin(), src.ip.bytes.begin() + src.ip.size());
  pseudo.insert(pseudo.end(), dst.ip.bytes.begin(), dst.ip.bytes.begin() + dst.ip.size());
  pseudo.insert(pseudo.end(),
                {0, 17, static_cast<uint8_t>(udp_len >> 8), static_cast<uint8_t>(udp_len)});
  uint16_t csum = static_cast<uint16_t>(~sum16(udp, udp_len, sum16(pseudo.data(), pseudo.size())));
  store16(udp + 6, csum == 0 ? 0xffff : csum);

  if (src.ip.v6) {
    p[0] = 0x60;
    store16(&p[4], static_cast<uint16_t>(udp_len));
    p[6] = 17;  // next header: UDP
    p[7] = 64;  // hop limit
    std::memcpy(&p[8], src.ip.bytes.data(), 16);
    std::memcpy(&p[24], dst.ip.bytes.data(), 16);
  } else {
    p[0] = 0x45;
    store16(&p[2], static_cast<uint16_t>(p.size()));
    p[8] = 64;  // TTL
    p[9] = 17;  // protocol: UDP
    std::memcpy(&p[12], src.ip.bytes.data(), 4);
    std::memcpy(&p[16], dst.ip.bytes.data(), 4);
    store16(&p[10], static_cast<uint16_t>(~sum16(p.data(), 20)));
  }
  return p;
}

struct UdpSeen {
  Endpoint src, dst;
  std::string data;
};

// Parses an IPv4 or IPv6 packet carrying UDP directly (no extension headers).
std::optional<UdpSeen> parse_udp(const uint8_t* p, size_t n) {
  UdpSeen s;
  size_t ip_len;
  if (n >= 20 && (p[0] >> 4) == 4) {
    ip_len = static_cast<size_t>(p[0] & 0xf) * 4;
    if (p[9] != 17 || n < ip_len + 8) return std::nullopt;
    std::memcpy(s.src.ip.bytes.data(), p + 12, 4);
    std::memcpy(s.dst.ip.bytes.data(), p + 16, 4);
  } else if (n >= 48 && (p[0] >> 4) == 6) {
    ip_len = 40;
    if (p[6] != 17) return std::nullopt;
    s.src.ip.v6 = s.dst.ip.v6 = true;
    std::memcpy(s.src.ip.bytes.data(), p + 8, 16);
    std::memcpy(s.dst.ip.bytes.data(), p + 24, 16);
  } else {
    return std::nullopt;
  }
  s.src.port = load16(p + ip_len);
  s.dst.port = load16(p + ip_len + 2);
  size_t udp_len = load16(p + ip_len + 4);
  if (udp_len < 8 || ip_len + udp_len > n) return std::nullopt;
  s.data.assign(reinterpret_cast<const char*>(p + ip_len + 8), udp_len - 8);
  return s;
}

// Reads packets from the TUN until a UDP datagram to `dst` shows up; other traffic the kernel
// sends on a fresh link (IPv6 MLD reports, router solicitations) is skipped.
std::optional<UdpSeen> await_udp_on_tun(plat::TunDevice& tun, const Endpoint& dst) {
  std::array<uint8_t, 2048> buf;
  for (int i = 0; i < 100; ++i) {
    pollfd pfd{tun.fd(), POLLIN, 0};
    if (poll(&pfd, 1, 2000) != 1) return std::nullopt;
    ssize_t n = tun.read(buf);
    if (n <= 0) continue;
    auto seen = parse_udp(buf.data(), static_cast<size_t>(n));
    if (seen && seen->dst == dst) return seen;
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("TUN devices by pattern and exact name; closing or deleting removes them") {
  if (!can_run()) return;
  check_child([] {
    auto a = plat::TunDevice::create("qvpnt%d");
    auto b = plat::TunDevice::create("qvpnt%d");
    CHILD_CHECK(a.name() == "qvpnt0");
    CHILD_CHECK(b.name() == "qvpnt1");
    CHILD_CHECK(a.fd() >= 0);
    CHILD_CHECK(plat::link_index(a.name()) > 0);
    CHILD_CHECK(plat::link_index(a.name()) != plat::link_index(b.name()));

    auto d = plat::TunDevice::create("");
    CHILD_CHECK(d.name() == "qvpn0");
    auto exact = plat::TunDevice::create("wg-exact");
    CHILD_CHECK(exact.name() == "wg-exact");
    CHILD_CHECK(throws_errno([] { plat::TunDevice::create("a-name-too-long-for-linux"); },
                             ENAMETOOLONG, "a-name-too-long-for-linux"));

    // Moving keeps the one device alive; destroying the owner removes it.
    {
      auto gone = plat::TunDevice::create("qvpn-gone");
      plat::TunDevice owner = std::move(gone);
      CHILD_CHECK(gone.fd() == -1);
      CHILD_CHECK(owner.name() == "qvpn-gone");
      CHILD_CHECK(plat::link_index("qvpn-gone") > 0);
    }
    CHILD_CHECK(throws_errno([] { plat::link_index("qvpn-gone"); }, ENODEV, "qvpn-gone"));

    auto del = plat::TunDevice::create("qvpn-del");
    plat::delete_link("qvpn-del");
    CHILD_CHECK(throws_errno([] { plat::link_index("qvpn-del"); }, ENODEV, "qvpn-del"));
    return 0;
  });
}

TEST_CASE("rtnetlink sets MTU, link state, addresses and routes, and reads them back") {
  if (!can_run()) return;
  check_child([] {
    auto tun = plat::TunDevice::create("qvpn%d");
    const std::string& name = tun.name();

    plat::set_link_mtu(name, 1380);
    auto info = plat::link_info(name);
    CHILD_CHECK(info.mtu == 1380);
    CHILD_CHECK(!info.up);
    plat::set_link_up(name, true);
    CHILD_CHECK(plat::link_info(name).up);

    plat::add_address(name, ip("10.77.0.1"), 24);
    plat::add_address(name, ip("fd77::1"), 64);
    plat::add_address(name, ip("10.77.0.1"), 24);  // again: replaced, not an error
    plat::add_address(name, ip("fd77::1"), 64);
    auto addrs = plat::list_addresses(name);
    CHILD_CHECK(contains(addrs, {ip("10.77.0.1"), 24}));
    CHILD_CHECK(contains(addrs, {ip("fd77::1"), 64}));
    CHILD_CHECK(
        std::count(addrs.begin(), addrs.end(), plat::InterfaceAddress{ip("10.77.0.1"), 24}) == 1);
    CHILD_CHECK(in_proc_if_inet6("fd770000000000000000000000000001", name));

    // Host bits in the destination are dropped: callers may pass any address in the prefix.
    plat::add_route(name, ip("10.78.9.9"), 16);
    plat::add_route(name, ip("fd78::"), 32);
    plat::add_route(name, ip("10.78.0.0"), 16);  // again: replaced
    plat::add_route(name, ip("10.79.0.0"), 16, 100);
    plat::add_route(name, ip("fd79::"), 48, 1000);  // beyond 8 bits: RTA_TABLE only
    auto routes = plat::list_routes(name);
    CHILD_CHECK(contains(routes, {ip("10.78.0.0"), 16, plat::kRouteTableMain}));
    CHILD_CHECK(contains(routes, {ip("fd78::"), 32, plat::kRouteTableMain}));
    CHILD_CHECK(contains(routes, {ip("10.77.0.0"), 24, plat::kRouteTableMain}));  // from address
    CHILD_CHECK(!contains(routes, {ip("10.79.0.0"), 16, 100}));
    CHILD_CHECK(contains(plat::list_routes(name, 100), {ip("10.79.0.0"), 16, 100}));
    CHILD_CHECK(contains(plat::list_routes(name, 1000), {ip("fd79::"), 48, 1000}));

    plat::del_route(name, ip("10.78.0.0"), 16);
    plat::del_route(name, ip("fd78::"), 32);
    plat::del_route(name, ip("10.79.0.0"), 16, 100);
    plat::del_route(name, ip("fd79::"), 48, 1000);
    routes = plat::list_routes(name);
    CHILD_CHECK(!contains(routes, {ip("10.78.0.0"), 16, plat::kRouteTableMain}));
    CHILD_CHECK(!contains(routes, {ip("fd78::"), 32, plat::kRouteTableMain}));
    CHILD_CHECK(plat::list_routes(name, 100).empty());
    CHILD_CHECK(
        throws_errno([&] { plat::del_route(name, ip("10.78.0.0"), 16); }, ESRCH, "10.78.0.0/16"));

    plat::del_address(name, ip("10.77.0.1"), 24);
    plat::del_address(name, ip("fd77::1"), 64);
    addrs = plat::list_addresses(name);
    CHILD_CHECK(!contains(addrs, {ip("10.77.0.1"), 24}));
    CHILD_CHECK(!contains(addrs, {ip("fd77::1"), 64}));
    CHILD_CHECK(throws_errno([&] { plat::del_address(name, ip("10.77.0.1"), 24); }, EADDRNOTAVAIL,
                             "10.77.0.1/24"));

    plat::set_link_up(name, false);
    CHILD_CHECK(!plat::link_info(name).up);
    // IPv4 routes need the link up; the error says which route and why.
    CHILD_CHECK(throws_errno([&] { plat::add_route(name, ip("10.78.0.0"), 16); }, ENETDOWN, name));
    return 0;
  });
}

TEST_CASE("rtnetlink errors name the interface or address") {
  if (!can_run()) return;
  check_child([] {
    CHILD_CHECK(throws_errno([] { plat::set_link_mtu("nosuchif0", 1400); }, ENODEV,
                             "set mtu 1400 on nosuchif0"));
    CHILD_CHECK(throws_errno([] { plat::set_link_up("nosuchif0", true); }, ENODEV, "nosuchif0"));
    CHILD_CHECK(throws_errno([] { plat::add_address("nosuchif0", ip("10.1.1.1"), 24); }, ENODEV,
                             "nosuchif0"));
    auto tun = plat::TunDevice::create("qvpn%d");
    CHILD_CHECK(throws_errno([&] { plat::add_address(tun.name(), ip("10.1.1.1"), 33); }, EINVAL,
                             "10.1.1.1/33"));
    CHILD_CHECK(throws_errno([&] { plat::set_link_mtu(tun.name(), 1 << 20); }, EINVAL, tun.name()));
    return 0;
  });
}

TEST_CASE("packets flow between a UDP socket and the TUN in both directions") {
  if (!can_run()) return;
  check_child([] {
    auto tun = make_configured_tun();
    tun.set_nonblocking(true);
    auto sock = plat::UdpSocket::bind(0);
    sock.set_nonblocking(true);

    // Outbound: the route sends datagrams for 10.78/16 and fd78::/32 into the TUN.
    struct Case {
      const char* local;
      const char* remote;
    };
    for (Case c : {Case{"10.77.0.1", "10.78.1.1:9999"}, Case{"[fd77::1]", "[fd78::1]:9999"}}) {
      Endpoint remote = *Endpoint::parse(c.remote);
      std::string data = std::string("to ") + c.remote;
      CHILD_CHECK(sock.send_to({reinterpret_cast<const uint8_t*>(data.data()), data.size()},
                               remote) == static_cast<ssize_t>(data.size()));
      auto seen = await_udp_on_tun(tun, remote);
      CHILD_CHECK(seen.has_value());
      CHILD_CHECK(seen->data == data);
      CHILD_CHECK(seen->src ==
                  *Endpoint::parse(std::string(c.local) + ":" + std::to_string(sock.local_port())));
    }

    // Inbound: a packet written to the TUN is delivered to the socket, sender un-mapped.
    for (Case c : {Case{"10.77.0.1", "10.78.1.1:5555"}, Case{"[fd77::1]", "[fd78::1]:5555"}}) {
      Endpoint remote = *Endpoint::parse(c.remote);
      Endpoint local =
          *Endpoint::parse(std::string(c.local) + ":" + std::to_string(sock.local_port()));
      std::string data = std::string("from ") + c.remote;
      auto packet = udp_packet(remote, local, data);
      pollfd pfd{sock.fd(), POLLIN, 0};
      // The kernel installs the local route of a new IPv6 address from its addrconf work queue,
      // a moment after add_address returns, and drops packets for the address until then. So
      // resend until one is delivered rather than guess how long that takes.
      bool delivered = false;
      for (int attempt = 0; attempt < 25 && !delivered; ++attempt) {
        CHILD_CHECK(tun.write(packet) == static_cast<ssize_t>(packet.size()));
        delivered = poll(&pfd, 1, 200) == 1;
      }
      CHILD_CHECK(delivered);
      std::array<uint8_t, 2048> buf;
      Endpoint from;
      ssize_t n = sock.recv_from(buf, from);
      CHILD_CHECK(n == static_cast<ssize_t>(data.size()));
      CHILD_CHECK(std::string(reinterpret_cast<char*>(buf.data()), data.size()) == data);
      CHILD_CHECK(from == remote);
      Endpoint ignored;  // a late duplicate of a resent packet must not reach the next case
      while (sock.recv_from(buf, ignored) >= 0) {
      }
    }

    // Non-blocking read of an empty TUN reports EAGAIN rather than blocking.
    std::array<uint8_t, 2048> buf;
    while (tun.read(buf) > 0) {
    }
    CHILD_CHECK(errno == EAGAIN);
    return 0;
  });
}

TEST_CASE("with offloads the TUN frames packets with a virtio_net_hdr and passes UDP super-packets") {
  if (!can_run()) return;
  check_child([] {
    auto tun = make_configured_tun(/*offload=*/true);
    CHILD_CHECK(tun.offload());
    tun.set_nonblocking(true);
    auto sock = plat::UdpSocket::bind(0);
    sock.enable_gso();
    CHILD_CHECK(sock.gso());

    // Three 1000-byte datagrams in one UDP_SEGMENT send towards the TUN's route.
    std::vector<std::vector<uint8_t>> payloads(3, std::vector<uint8_t>(1000));
    std::vector<plat::OutDatagram> out;
    const Endpoint remote = *Endpoint::parse("10.78.1.1:9999");
    for (size_t i = 0; i < payloads.size(); ++i) {
      std::fill(payloads[i].begin(), payloads[i].end(), uint8_t(i + 1));
      out.push_back({payloads[i], remote});
    }
    CHILD_CHECK(sock.send_batch(out) == 3);

    std::vector<uint8_t> buf(70000);
    size_t udp_bytes = 0, reads = 0;
    while (udp_bytes < 3000 && reads < 10) {
      pollfd pfd{tun.fd(), POLLIN, 0};
      CHILD_CHECK(poll(&pfd, 1, 2000) == 1);
      const ssize_t n = tun.read(buf);
      CHILD_CHECK(n > 10);
      ++reads;
      const uint8_t gso_type = buf[1];
      uint16_t gso_size;
      std::memcpy(&gso_size, &buf[4], 2);
      const uint8_t* ip = buf.data() + 10;  // the IPv4 packet after the virtio_net_hdr
      if ((ip[0] >> 4) != 4 || ip[9] != 17) continue;  // not our UDP (e.g. IPv6 router solicitations)
      udp_bytes += size_t(n) - 10 - 20 - 8;
      if (tun.udp_offload()) {  // USO: one super-packet, to be split at gso_size
        CHILD_CHECK(gso_type == 5);  // VIRTIO_NET_HDR_GSO_UDP_L4
        CHILD_CHECK(gso_size == 1000);
        CHILD_CHECK(size_t(n) == 10 + 20 + 8 + 3000);
      } else {
        CHILD_CHECK(gso_type == 0);
      }
    }
    CHILD_CHECK(udp_bytes == 3000);
    return 0;
  });
}
