// The dual-stack UDP socket on loopback: one port for IPv4 and IPv6, senders reported un-mapped.
#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>
#include <vector>
#include <algorithm>

#include "platform/udp_socket.h"

using qvpn::platform::Endpoint;
using qvpn::platform::UdpSocket;

namespace {

bool readable(const UdpSocket& s, int timeout_ms = 2000) {
  pollfd p{s.fd(), POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

Endpoint at(const char* ip, uint16_t port) {
  auto ep = Endpoint::parse(std::string(ip) + ":" + std::to_string(port));
  REQUIRE(ep);
  return *ep;
}

// Sends `text` from a to b at address `ip` and checks what b sees.
void exchange(UdpSocket& a, UdpSocket& b, const char* ip, bool expect_v6) {
  const std::string text = std::string("hello over ") + ip;
  auto to = at(ip, b.local_port());
  REQUIRE(a.send_to({reinterpret_cast<const uint8_t*>(text.data()), text.size()}, to) ==
          static_cast<ssize_t>(text.size()));
  REQUIRE(readable(b));
  std::array<uint8_t, 2048> buf{};
  Endpoint from;
  ssize_t n = b.recv_from(buf, from);
  REQUIRE(n == static_cast<ssize_t>(text.size()));
  CHECK(std::memcmp(buf.data(), text.data(), text.size()) == 0);
  CHECK(from.port == a.local_port());
  CHECK(from.ip.v6 == expect_v6);
  CHECK(from == at(ip, a.local_port()));
}

}  // namespace

TEST_CASE("two sockets on random ports exchange datagrams over 127.0.0.1 and ::1") {
  auto a = UdpSocket::bind(0);
  auto b = UdpSocket::bind(0);
  CHECK(a.local_port() != 0);
  CHECK(b.local_port() != 0);
  CHECK(a.local_port() != b.local_port());
  CHECK(a.fd() >= 0);

  exchange(a, b, "127.0.0.1", false);  // arrives as ::ffff:127.0.0.1, reported as 127.0.0.1
  exchange(b, a, "127.0.0.1", false);
  if (a.dual_stack()) {
    exchange(a, b, "[::1]", true);
    exchange(b, a, "[::1]", true);
  } else {
    MESSAGE("no IPv6 in this kernel; skipped ::1");
  }
}

TEST_CASE("non-blocking receive on an empty socket returns EAGAIN") {
  auto s = UdpSocket::bind(0);
  s.set_nonblocking(true);
  std::array<uint8_t, 64> buf{};
  Endpoint from;
  errno = 0;
  ssize_t n = s.recv_from(buf, from);
  int err = errno;  // before any doctest output can change it
  CHECK(n == -1);
  CHECK((err == EAGAIN || err == EWOULDBLOCK));
  s.set_nonblocking(false);
}

TEST_CASE("binding a port in use throws an error naming the port") {
  auto a = UdpSocket::bind(0);
  std::string port = std::to_string(a.local_port());
  try {
    auto b = UdpSocket::bind(a.local_port());
    FAIL("expected EADDRINUSE");
  } catch (const std::system_error& e) {
    CHECK(e.code().value() == EADDRINUSE);
    CHECK(std::string(e.what()).find(port) != std::string::npos);
  }
}

TEST_CASE("move transfers ownership; buffers and fwmark can be set") {
  auto a = UdpSocket::bind(0);
  int fd = a.fd();
  uint16_t port = a.local_port();
  UdpSocket b = std::move(a);
  CHECK(b.fd() == fd);
  CHECK(b.local_port() == port);
  CHECK(a.fd() == -1);  // NOLINT(bugprone-use-after-move): moved-from state is specified

  int rcvbuf = 0;
  socklen_t len = sizeof rcvbuf;
  REQUIRE(getsockopt(b.fd(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len) == 0);
  MESSAGE("SO_RCVBUF is " << rcvbuf);
  CHECK(rcvbuf > 0);

  if (geteuid() == 0) {
    try {
      b.set_fwmark(0x51820);
      uint32_t mark = 0;
      len = sizeof mark;
      REQUIRE(getsockopt(b.fd(), SOL_SOCKET, SO_MARK, &mark, &len) == 0);
      CHECK(mark == 0x51820u);
    } catch (const std::system_error& e) {
      MESSAGE("SO_MARK unsupported here: " << e.what());
    }
  }
}

namespace {

// The datagram each test sends as number i: `size` bytes, each i + offset.
std::vector<uint8_t> numbered(size_t i, size_t size) {
  return std::vector<uint8_t>(size, static_cast<uint8_t>(i * 7 + 1));
}

// Receives until `want` datagrams arrived, splitting GRO runs; returns them in order.
std::vector<std::vector<uint8_t>> receive_all(UdpSocket& s, size_t want, size_t* gro_runs) {
  std::vector<std::vector<uint8_t>> got;
  std::vector<std::vector<uint8_t>> storage(8, std::vector<uint8_t>(qvpn::platform::kUdpMaxCoalesced));
  std::vector<qvpn::platform::InDatagrams> bufs(storage.size());
  while (got.size() < want && readable(s)) {
    for (size_t i = 0; i < bufs.size(); ++i) bufs[i].buf = storage[i];
    const int n = s.recv_batch(bufs);
    REQUIRE(n > 0);
    for (int i = 0; i < n; ++i) {
      const auto& in = bufs[size_t(i)];
      REQUIRE(in.segment_size > 0);
      if (in.len > in.segment_size) ++*gro_runs;
      for (size_t off = 0; off < in.len; off += in.segment_size) {
        const size_t len = std::min(in.segment_size, in.len - off);
        got.emplace_back(in.buf.begin() + long(off), in.buf.begin() + long(off + len));
      }
    }
  }
  return got;
}

// Sends 40 datagrams of 1200 bytes and a 300-byte tail from a to b, then 3 to c between them.
void send_and_check(bool gso, bool gro) {
  auto a = UdpSocket::bind(0);
  auto b = UdpSocket::bind(0);
  auto c = UdpSocket::bind(0);
  if (gso) a.enable_gso();
  if (gro) b.enable_gro();
  b.set_nonblocking(true);
  std::vector<std::vector<uint8_t>> payloads;
  std::vector<qvpn::platform::OutDatagram> out;
  for (size_t i = 0; i < 44; ++i) payloads.push_back(numbered(i, i == 40 ? 300 : 1200));
  for (size_t i = 0; i < payloads.size(); ++i) {
    const bool to_c = i > 40;
    out.push_back({payloads[i], at("127.0.0.1", to_c ? c.local_port() : b.local_port())});
  }
  CHECK(a.send_batch(out) == out.size());

  size_t runs = 0;
  auto got = receive_all(b, 41, &runs);
  REQUIRE(got.size() == 41);
  for (size_t i = 0; i < 41; ++i) CHECK(got[i] == payloads[i]);
  size_t c_runs = 0;
  auto got_c = receive_all(c, 3, &c_runs);
  REQUIRE(got_c.size() == 3);
  for (size_t i = 0; i < 3; ++i) CHECK(got_c[i] == payloads[41 + i]);
  MESSAGE("gso " << a.gso() << " gro " << b.gro() << ": " << runs << " coalesced receives");
  if (!gro) CHECK(runs == 0);
}

}  // namespace

TEST_CASE("batches: sendmmsg/recvmmsg carry datagrams in order, with and without GSO and GRO") {
  for (bool gso : {false, true}) {
    for (bool gro : {false, true}) {
      CAPTURE(gso);
      CAPTURE(gro);
      send_and_check(gso, gro);
    }
  }
}

TEST_CASE("GSO sends over loopback arrive coalesced at a GRO socket") {
  auto a = UdpSocket::bind(0);
  auto b = UdpSocket::bind(0);
  a.enable_gso();
  if (!a.gso() || !b.enable_gro()) {
    MESSAGE("no UDP GSO/GRO in this kernel; skipped");
    return;
  }
  b.set_nonblocking(true);
  std::vector<std::vector<uint8_t>> payloads;
  std::vector<qvpn::platform::OutDatagram> out;
  for (size_t i = 0; i < 20; ++i) payloads.push_back(numbered(i, 1000));
  for (auto& p : payloads) out.push_back({p, at("127.0.0.1", b.local_port())});
  REQUIRE(a.send_batch(out) == out.size());
  size_t runs = 0;
  auto got = receive_all(b, 20, &runs);
  REQUIRE(got.size() == 20);
  for (size_t i = 0; i < 20; ++i) CHECK(got[i] == payloads[i]);
  CHECK(runs >= 1);  // one UDP_SEGMENT send reaches a GRO socket on lo as one buffer
}

namespace {

// The TTL (hop limit) the next datagram on `s` arrived with, read with IP_RECVTTL /
// IPV6_RECVHOPLIMIT.
int received_ttl(const UdpSocket& s) {
  const int on = 1;
  setsockopt(s.fd(), SOL_IP, IP_RECVTTL, &on, sizeof on);
  setsockopt(s.fd(), SOL_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on);
  REQUIRE(readable(s));
  std::array<uint8_t, 256> buf{};
  iovec iov{buf.data(), buf.size()};
  alignas(cmsghdr) char control[256];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  REQUIRE(recvmsg(s.fd(), &msg, 0) > 0);
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_TTL) ||
        (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
      int ttl;
      std::memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
      return ttl;
    }
  }
  return -1;
}

}  // namespace

TEST_CASE("a datagram sent with a TTL carries it, over IPv4 and IPv6; the next one does not") {
  auto a = UdpSocket::bind(0);
  auto b = UdpSocket::bind(0);
  const uint8_t punch[] = {1, 2, 3};
  for (const char* ip : {"127.0.0.1", "[::1]"}) {
    if (std::string(ip) == "[::1]" && !a.dual_stack()) continue;
    CAPTURE(ip);
    REQUIRE(a.send_to(punch, at(ip, b.local_port()), 2) == 3);
    CHECK(received_ttl(b) == 2);
    REQUIRE(a.send_to(punch, at(ip, b.local_port())) == 3);
    CHECK(received_ttl(b) > 2);
  }
}
