#include "core/stun_server.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstring>

#include "nat/stun.h"
#include "platform/endpoint.h"

namespace qvpn::core {

StunServer::StunServer(asio::io_context& io, uint16_t port) : socket_(io) {
  socket_.open(asio::ip::udp::v4());
  socket_.bind({asio::ip::address_v4::any(), port});
  port_ = socket_.local_endpoint().port();
  const int on = 1;
  if (::setsockopt(socket_.native_handle(), IPPROTO_IP, IP_PKTINFO, &on, sizeof on) != 0) {
    throw std::system_error(errno, std::generic_category(), "IP_PKTINFO");
  }
  socket_.non_blocking(true);
  wait();
}

void StunServer::wait() {
  socket_.async_wait(asio::ip::udp::socket::wait_read, [this](asio::error_code ec) {
    if (ec) return;
    drain();
    wait();
  });
}

void StunServer::drain() {
  std::array<uint8_t, 2048> buf;
  for (int i = 0; i < 64; ++i) {
    sockaddr_in from{};
    iovec iov{buf.data(), buf.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in_pktinfo))];
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(socket_.native_handle(), &msg, MSG_TRUNC);
    if (n < 0) return;
    ++requests_;
    const auto observed =
        platform::Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&from), msg.msg_namelen);
    if (!observed || static_cast<size_t>(n) > buf.size()) {
      ++rejected_;
      continue;
    }
    const auto reply = nat::stun_server_reply({buf.data(), static_cast<size_t>(n)}, *observed);
    if (reply.verdict != nat::StunVerdict::kAnswered) ++rejected_;
    if (reply.bytes.empty()) continue;
    // Answer from the address the request came to.
    in_pktinfo info{};
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
      }
    }
    info.ipi_ifindex = 0;
    info.ipi_spec_dst = info.ipi_addr;
    iovec out{const_cast<uint8_t*>(reply.bytes.data()), reply.bytes.size()};
    alignas(cmsghdr) char out_control[CMSG_SPACE(sizeof(in_pktinfo))] = {};
    msghdr send{};
    send.msg_name = &from;
    send.msg_namelen = sizeof from;
    send.msg_iov = &out;
    send.msg_iovlen = 1;
    send.msg_control = out_control;
    send.msg_controllen = sizeof out_control;
    cmsghdr* c = CMSG_FIRSTHDR(&send);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof info);
    std::memcpy(CMSG_DATA(c), &info, sizeof info);
    ::sendmsg(socket_.native_handle(), &send, MSG_DONTWAIT);
  }
}

}  // namespace qvpn::core
