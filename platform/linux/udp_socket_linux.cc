#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>
#include <utility>

#include "platform/udp_socket.h"

namespace qvpn::platform {
namespace {

[[noreturn]] void fail(int err, uint16_t port, const std::string& what) {
  throw std::system_error(err, std::system_category(),
                          "UDP port " + std::to_string(port) + ": " + what);
}

// SO_*BUFFORCE ignores net.core.[rw]mem_max but needs CAP_NET_ADMIN; the plain option is
// silently capped at the sysctl limit. Either result is acceptable, so errors are ignored.
void grow_buffer(int fd, int force_opt, int opt) {
  int size = kUdpSocketBufferSize;
  if (setsockopt(fd, SOL_SOCKET, force_opt, &size, sizeof size) == 0) return;
  setsockopt(fd, SOL_SOCKET, opt, &size, sizeof size);
}

}  // namespace

UdpSocket UdpSocket::bind(uint16_t port) {
  bool v6 = true;
  int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
  if (fd < 0 && errno == EAFNOSUPPORT) {
    v6 = false;
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
  }
  if (fd < 0) fail(errno, port, "socket");

  auto fail_closing = [&](const std::string& what) {
    int err = errno;
    ::close(fd);
    fail(err, port, what);
  };
  if (v6) {
    int off = 0;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) < 0) {
      fail_closing("IPV6_V6ONLY");
    }
  }
  grow_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF);
  grow_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF);

  sockaddr_storage ss{};
  socklen_t len;
  if (v6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr = in6addr_any;
    sin6->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_ANY);
    sin->sin_port = htons(port);
    len = sizeof(sockaddr_in);
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0) fail_closing("bind");

  len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) fail_closing("getsockname");
  auto local = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  if (!local) {
    errno = EAFNOSUPPORT;
    fail_closing("getsockname");
  }
  return UdpSocket(fd, v6, local->port);
}

UdpSocket::UdpSocket(UdpSocket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), v6_(other.v6_), port_(other.port_) {}

UdpSocket& UdpSocket::operator=(UdpSocket&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    v6_ = other.v6_;
    port_ = other.port_;
  }
  return *this;
}

UdpSocket::~UdpSocket() { close(); }

void UdpSocket::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void UdpSocket::set_nonblocking(bool on) {
  int flags = fcntl(fd_, F_GETFL);
  if (flags < 0) fail(errno, port_, "F_GETFL");
  flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (fcntl(fd_, F_SETFL, flags) < 0) fail(errno, port_, "F_SETFL");
}

void UdpSocket::set_fwmark(uint32_t mark) {
  if (setsockopt(fd_, SOL_SOCKET, SO_MARK, &mark, sizeof mark) < 0) {
    fail(errno, port_, "SO_MARK " + std::to_string(mark));
  }
}

ssize_t UdpSocket::recv_from(std::span<uint8_t> buf, Endpoint& from) {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  ssize_t n = recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&ss), &len);
  if (n >= 0)
    from = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len).value_or(Endpoint{});
  return n;
}

ssize_t UdpSocket::send_to(std::span<const uint8_t> data, const Endpoint& to) {
  if (to.ip.v6 && !v6_) {
    errno = EAFNOSUPPORT;
    return -1;
  }
  sockaddr_storage ss;
  socklen_t len = to.to_sockaddr(ss, v6_);
  return sendto(fd_, data.data(), data.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&ss), len);
}

}  // namespace qvpn::platform
