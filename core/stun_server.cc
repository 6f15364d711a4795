#include "core/stun_server.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstring>

#include "nat/stun.h"
#include "platform/endpoint.h"

namespace qvpn::core {

namespace {

constexpr int kMaxPerWake = 64;  // datagrams per readiness, so one busy port cannot starve the loop

void set_int(asio::ip::udp::socket& s, int level, int name, const char* what) {
  const int on = 1;
  if (::setsockopt(s.native_handle(), level, name, &on, sizeof on) != 0) {
    throw std::system_error(errno, std::generic_category(), what);
  }
}

// The control message that makes the reply leave from `local` (the request's destination).
// Returns its length in `buf`.
size_t source_control(const cmsghdr* request_cmsg, std::span<char> buf) {
  std::fill(buf.begin(), buf.end(), 0);
  auto* c = reinterpret_cast<cmsghdr*>(buf.data());
  if (request_cmsg->cmsg_level == IPPROTO_IP && request_cmsg->cmsg_type == IP_PKTINFO) {
    in_pktinfo info;
    std::memcpy(&info, CMSG_DATA(request_cmsg), sizeof info);
    info.ipi_ifindex = 0;  // let routing pick the interface; only the source address is fixed
    info.ipi_spec_dst = info.ipi_addr;
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof info);
    std::memcpy(CMSG_DATA(c), &info, sizeof info);
    return CMSG_SPACE(sizeof info);
  }
  in6_pktinfo info;
  std::memcpy(&info, CMSG_DATA(request_cmsg), sizeof info);
  // Link-local addresses need their interface; global ones route as usual.
  if (!IN6_IS_ADDR_LINKLOCAL(&info.ipi6_addr)) info.ipi6_ifindex = 0;
  c->cmsg_level = IPPROTO_IPV6;
  c->cmsg_type = IPV6_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof info);
  std::memcpy(CMSG_DATA(c), &info, sizeof info);
  return CMSG_SPACE(sizeof info);
}

}  // namespace

StunServer::StunServer(asio::io_context& io, uint16_t port) : v4_(io) {
  v4_.open(asio::ip::udp::v4());
  v4_.bind({asio::ip::address_v4::any(), port});
  port_ = v4_.local_endpoint().port();
  set_int(v4_, IPPROTO_IP, IP_PKTINFO, "IP_PKTINFO");
  v4_.non_blocking(true);
  wait(v4_);

  // IPv6 is optional: a host without it still serves IPv4.
  asio::ip::udp::socket v6(io);
  asio::error_code ec;
  v6.open(asio::ip::udp::v6(), ec);
  if (!ec) v6.set_option(asio::ip::v6_only(true), ec);
  if (!ec) v6.bind({asio::ip::address_v6::any(), port_}, ec);
  if (ec) return;
  set_int(v6, IPPROTO_IPV6, IPV6_RECVPKTINFO, "IPV6_RECVPKTINFO");
  v6.non_blocking(true);
  v6_.emplace(std::move(v6));
  wait(*v6_);
}

void StunServer::wait(asio::ip::udp::socket& socket) {
  socket.async_wait(asio::ip::udp::socket::wait_read, [this, &socket](asio::error_code ec) {
    if (ec) return;
    drain(socket);
    wait(socket);
  });
}

void StunServer::drain(asio::ip::udp::socket& socket) {
  std::array<uint8_t, 2048> buf;
  for (int i = 0; i < kMaxPerWake; ++i) {
    sockaddr_storage from{};
    iovec iov{buf.data(), buf.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(in_pktinfo))];
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(socket.native_handle(), &msg, MSG_TRUNC | MSG_DONTWAIT);
    if (n < 0) return;
    ++requests_;
    const auto observed = platform::Endpoint::from_sockaddr(
        reinterpret_cast<const sockaddr*>(&from), msg.msg_namelen);
    const cmsghdr* local = nullptr;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) ||
          (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO)) {
        local = c;
      }
    }
    // Truncated datagrams are larger than any STUN request we answer.
    if (!observed || !local || static_cast<size_t>(n) > buf.size()) {
      ++rejected_;
      continue;
    }
    const auto reply = nat::stun_server_reply({buf.data(), static_cast<size_t>(n)}, *observed);
    if (reply.verdict != nat::StunVerdict::kAnswered) ++rejected_;
    if (reply.bytes.empty()) continue;
    iovec out{const_cast<uint8_t*>(reply.bytes.data()), reply.bytes.size()};
    alignas(cmsghdr) char out_control[CMSG_SPACE(sizeof(in6_pktinfo))];
    msghdr send{};
    send.msg_name = &from;
    send.msg_namelen = msg.msg_namelen;
    send.msg_iov = &out;
    send.msg_iovlen = 1;
    send.msg_control = out_control;
    send.msg_controllen = source_control(local, out_control);
    ::sendmsg(socket.native_handle(), &send, MSG_DONTWAIT);  // UDP: a lost reply is retried
  }
}

}  // namespace qvpn::core
