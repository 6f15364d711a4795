#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
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

// UDP_SEGMENT carries at most this many datagrams (UDP_MAX_SEGMENTS in older kernels).
constexpr size_t kMaxSegments = 64;
// How long a send waits for room in a full socket buffer before dropping.
constexpr int kSendWaitMs = 100;

}  // namespace

// One mmsghdr per message, with its address, control buffer and iovecs alongside.
struct UdpSocket::Scratch {
  struct Control {
    alignas(cmsghdr) uint8_t bytes[CMSG_SPACE(sizeof(int))];
  };
  std::vector<mmsghdr> msgs;
  std::vector<sockaddr_storage> addrs;
  std::vector<Control> controls;
  std::vector<iovec> iovs;

  void reserve(size_t messages, size_t iov_count) {
    if (msgs.size() < messages) {
      msgs.resize(messages);
      addrs.resize(messages);
      controls.resize(messages);
    }
    if (iovs.size() < iov_count) iovs.resize(iov_count);
  }
};

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

UdpSocket::UdpSocket(int fd, bool v6, uint16_t port) : fd_(fd), v6_(v6), port_(port) {}

UdpSocket::UdpSocket(UdpSocket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      v6_(other.v6_),
      port_(other.port_),
      gro_(other.gro_),
      gso_(other.gso_),
      scratch_(std::move(other.scratch_)) {}

UdpSocket& UdpSocket::operator=(UdpSocket&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    v6_ = other.v6_;
    port_ = other.port_;
    gro_ = other.gro_;
    gso_ = other.gso_;
    scratch_ = std::move(other.scratch_);
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

ssize_t UdpSocket::send_to(std::span<const uint8_t> data, const Endpoint& to, int ttl) {
  if (to.ip.v6 && !v6_) {
    errno = EAFNOSUPPORT;
    return -1;
  }
  sockaddr_storage ss;
  socklen_t len = to.to_sockaddr(ss, v6_);
  iovec iov{const_cast<uint8_t*>(data.data()), data.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_name = &ss;
  msg.msg_namelen = len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  // An IPv4 destination goes out as IPv4 even from a dual-stack socket, and takes IP_TTL.
  cm->cmsg_level = to.ip.v6 ? SOL_IPV6 : SOL_IP;
  cm->cmsg_type = to.ip.v6 ? IPV6_HOPLIMIT : IP_TTL;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(cm), &ttl, sizeof ttl);
  return sendmsg(fd_, &msg, MSG_NOSIGNAL);
}

bool UdpSocket::enable_gro() {
  int on = 1;
  gro_ = setsockopt(fd_, SOL_UDP, UDP_GRO, &on, sizeof on) == 0;
  return gro_;
}

// Setting UDP_SEGMENT to 0 on the socket is harmless and fails on kernels without GSO.
void UdpSocket::enable_gso() {
  int zero = 0;
  gso_ = setsockopt(fd_, SOL_UDP, UDP_SEGMENT, &zero, sizeof zero) == 0;
}

int UdpSocket::recv_batch(std::span<InDatagrams> bufs) {
  if (!scratch_) scratch_ = std::make_unique<Scratch>();
  Scratch& sc = *scratch_;
  sc.reserve(bufs.size(), bufs.size());
  for (size_t i = 0; i < bufs.size(); ++i) {
    sc.iovs[i] = {bufs[i].buf.data(), bufs[i].buf.size()};
    msghdr& h = sc.msgs[i].msg_hdr;
    h = {};
    h.msg_name = &sc.addrs[i];
    h.msg_namelen = sizeof(sockaddr_storage);
    h.msg_iov = &sc.iovs[i];
    h.msg_iovlen = 1;
    h.msg_control = sc.controls[i].bytes;
    h.msg_controllen = sizeof(Scratch::Control::bytes);
  }
  const int n =
      recvmmsg(fd_, sc.msgs.data(), static_cast<unsigned>(bufs.size()), MSG_WAITFORONE, nullptr);
  for (int i = 0; i < n; ++i) {
    InDatagrams& in = bufs[size_t(i)];
    msghdr& h = sc.msgs[size_t(i)].msg_hdr;
    in.len = sc.msgs[size_t(i)].msg_len;
    in.segment_size = in.len;
    in.from = Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(h.msg_name), h.msg_namelen)
                  .value_or(Endpoint{});
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
      if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
        int size;
        std::memcpy(&size, CMSG_DATA(c), sizeof size);
        if (size > 0) in.segment_size = std::min(in.len, size_t(size));
      }
    }
  }
  return n;
}

size_t UdpSocket::send_batch(std::span<const OutDatagram> datagrams) {
  if (!scratch_) scratch_ = std::make_unique<Scratch>();
  Scratch& sc = *scratch_;
  sc.reserve(datagrams.size(), datagrams.size());
  size_t messages = 0;
  for (size_t i = 0; i < datagrams.size();) {
    const OutDatagram& first = datagrams[i];
    // A run for one UDP_SEGMENT send: same destination, equal sizes, the last maybe shorter.
    size_t end = i + 1, total = first.bytes.size();
    if (gso_ && !first.bytes.empty()) {
      while (end < datagrams.size() && end - i < kMaxSegments &&
             datagrams[end].to == first.to && datagrams[end].bytes.size() <= first.bytes.size() &&
             !datagrams[end].bytes.empty() && total + datagrams[end].bytes.size() <= kUdpMaxCoalesced) {
        total += datagrams[end].bytes.size();
        if (datagrams[end++].bytes.size() < first.bytes.size()) break;
      }
    }
    msghdr& h = sc.msgs[messages].msg_hdr;
    h = {};
    if (first.to.ip.v6 && !v6_) {  // nowhere to send it; as send_to, drop
      i = end;
      continue;
    }
    h.msg_name = &sc.addrs[messages];
    h.msg_namelen = first.to.to_sockaddr(sc.addrs[messages], v6_);
    for (size_t k = i; k < end; ++k) {
      sc.iovs[k] = {const_cast<uint8_t*>(datagrams[k].bytes.data()), datagrams[k].bytes.size()};
    }
    h.msg_iov = &sc.iovs[i];
    h.msg_iovlen = end - i;
    if (end - i > 1) {
      h.msg_control = sc.controls[messages].bytes;
      h.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
      cmsghdr* c = CMSG_FIRSTHDR(&h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      const uint16_t size = static_cast<uint16_t>(first.bytes.size());
      std::memcpy(CMSG_DATA(c), &size, sizeof size);
    }
    ++messages;
    i = end;
  }
  return send_messages(messages);
}

size_t UdpSocket::send_messages(size_t count) {
  Scratch& sc = *scratch_;
  size_t sent = 0;
  for (size_t done = 0; done < count;) {
    const int n = sendmmsg(fd_, sc.msgs.data() + done, static_cast<unsigned>(count - done),
                           MSG_NOSIGNAL);
    if (n > 0) {
      for (size_t m = done; m < done + size_t(n); ++m) sent += sc.msgs[m].msg_hdr.msg_iovlen;
      done += size_t(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      pollfd p{fd_, POLLOUT, 0};
      if (poll(&p, 1, kSendWaitMs) > 0) continue;
    } else if (errno == EIO && sc.msgs[done].msg_hdr.msg_controllen != 0) {
      // The route's device cannot checksum segments: send this run one by one, and stop
      // asking for segmentation.
      gso_ = false;
      const msghdr& run = sc.msgs[done].msg_hdr;
      for (size_t k = 0; k < run.msg_iovlen; ++k) {
        msghdr single = run;
        single.msg_control = nullptr;
        single.msg_controllen = 0;
        single.msg_iov = run.msg_iov + k;
        single.msg_iovlen = 1;
        if (sendmsg(fd_, &single, MSG_NOSIGNAL) >= 0) ++sent;
      }
    }
    ++done;  // this message was dropped, or just sent piecewise; go on with the rest
  }
  return sent;
}

}  // namespace qvpn::platform
