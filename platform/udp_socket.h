#pragma once
// The node's one UDP socket: dual-stack, so a single bound port serves IPv4 and IPv6 peers
// (IPv4 travels as ::ffff:a.b.c.d inside the socket and as plain IPv4 in Endpoint).
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "platform/endpoint.h"

namespace qvpn::platform {

// Buffer size asked for in each direction; bursts of WireGuard packets overflow the default.
inline constexpr int kUdpSocketBufferSize = 4 * 1024 * 1024;
// The most one UDP GRO receive or UDP_SEGMENT send carries.
inline constexpr size_t kUdpMaxCoalesced = 65535;

// One datagram for send_batch; the bytes stay the caller's.
struct OutDatagram {
  std::span<const uint8_t> bytes;
  Endpoint to;
};

// One receive buffer for recv_batch. It receives one datagram or, with UDP GRO, a run of
// datagrams from one sender, each segment_size bytes except the last, which may be shorter.
struct InDatagrams {
  std::span<uint8_t> buf;  // size it kUdpMaxCoalesced with GRO, else the largest datagram
  size_t len = 0;
  size_t segment_size = 0;  // the length of each datagram in buf (== len when only one)
  Endpoint from;
};

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
  // The same with an IP TTL (IPv6 hop limit) for this datagram only: NAT hole punching
  // sends packets that open the local NAT and expire before the remote one.
  ssize_t send_to(std::span<const uint8_t> data, const Endpoint& to, int ttl);

  // Batches, one system call for many datagrams (recvmmsg/sendmmsg), and the kernel's UDP
  // segmentation offloads: with GSO, consecutive datagrams to one destination travel
  // through the stack as one UDP_SEGMENT super-datagram; with GRO, the kernel hands over
  // runs of datagrams from one sender in one buffer.
  // Asks for UDP GRO on receive; returns whether the kernel granted it.
  bool enable_gro();
  bool gro() const { return gro_; }
  // Uses UDP_SEGMENT on send where the kernel has it (Linux 4.18 and later).
  void enable_gso();
  bool gso() const { return gso_; }
  // Receives into up to bufs.size() buffers. Returns how many were filled, or -1 with errno
  // (EAGAIN when non-blocking and empty).
  int recv_batch(std::span<InDatagrams> bufs);
  // Sends every datagram, in order. A full socket buffer waits (briefly) for room, so a fast
  // sender slows down instead of losing packets; other errors drop the datagram, as
  // send_to's callers do. Returns how many datagrams were handed to the kernel.
  size_t send_batch(std::span<const OutDatagram> datagrams);

 private:
  UdpSocket(int fd, bool v6, uint16_t port);
  void close();
  // Sends the first `count` prepared messages with sendmmsg; returns the datagrams that went.
  size_t send_messages(size_t count);

  int fd_ = -1;
  bool v6_ = false;
  uint16_t port_ = 0;
  bool gro_ = false;
  bool gso_ = false;
  // Scratch for the batch calls, grown on demand and kept.
  struct Scratch;
  std::unique_ptr<Scratch> scratch_;
};

}  // namespace qvpn::platform
