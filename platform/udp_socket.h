#pragma once
// The node's one UDP socket: dual-stack, so a single bound port serves IPv4 and IPv6 peers
// (IPv4 travels as ::ffff:a.b.c.d inside the socket and as plain IPv4 in Endpoint).
#include <sys/types.h>

#include <cstdint>
#include <span>

#include "platform/endpoint.h"

namespace qvpn::platform {

// Buffer size asked for in each direction; bursts of WireGuard packets overflow the default.
inline constexpr int kUdpSocketBufferSize = 4 * 1024 * 1024;

class UdpSocket {
 public:
  // Binds [::]:port with IPV6_V6ONLY off (port 0 lets the kernel choose), or 0.0.0.0:port if the
  // kernel has no IPv6. Asks for kUdpSocketBufferSize buffers, forcing past the sysctl limits
  // when privileged, otherwise taking what the kernel grants. Throws std::system_error naming
  // the port (EADDRINUSE, EACCES, ...).
  static UdpSocket bind(uint16_t port);

  UdpSocket(UdpSocket&& other) noexcept;
  UdpSocket& operator=(UdpSocket&& other) noexcept;
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;
  ~UdpSocket();

  int fd() const { return fd_; }
  // The bound port (the kernel's choice when bound to port 0).
  uint16_t local_port() const { return port_; }
  // False on an IPv4-only kernel, where send_to an IPv6 endpoint fails with EAFNOSUPPORT.
  bool dual_stack() const { return v6_; }

  // Throws std::system_error on failure.
  void set_nonblocking(bool on);
  // Marks outgoing packets (SO_MARK) so policy routing can keep tunnel traffic out of the
  // tunnel; needs CAP_NET_ADMIN. Throws std::system_error on failure.
  void set_fwmark(uint32_t mark);

  // Receives one datagram into `buf` (truncated if larger) and its sender, IPv4 un-mapped.
  // Returns its length, or -1 with errno (EAGAIN when non-blocking and empty, EINTR).
  ssize_t recv_from(std::span<uint8_t> buf, Endpoint& from);
  // Sends one datagram. Returns bytes sent, or -1 with errno.
  ssize_t send_to(std::span<const uint8_t> data, const Endpoint& to);

 private:
  UdpSocket(int fd, bool v6, uint16_t port) : fd_(fd), v6_(v6), port_(port) {}
  void close();

  int fd_ = -1;
  bool v6_ = false;
  uint16_t port_ = 0;
};

}  // namespace qvpn::platform
