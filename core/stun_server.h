#pragma once
// The relay's STUN port: answers Binding requests (nat/stun.h) on every address of the host,
// IPv4 and (when the host has it) IPv6, each reply sent from the address its request was
// sent to (IP_PKTINFO / IPV6_PKTINFO). A reply from another address of a multi-homed host
// would be dropped by the client's NAT; the lab's relay has two addresses so that clients
// can tell hard NATs from easy ones.
#include <asio.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>

namespace qvpn::core {

class StunServer {
 public:
  // Binds UDP `port` on 0.0.0.0 and, if possible, on [::] (IPv6 only). `port` 0 picks a free
  // port, the same for both. Throws std::system_error when IPv4 cannot be bound.
  StunServer(asio::io_context& io, uint16_t port);
  uint16_t port() const { return port_; }
  bool ipv6() const { return v6_.has_value(); }
  uint64_t requests() const { return requests_; }  // datagrams received
  uint64_t rejected() const { return rejected_; }  // of those, not answered with a mapping
  nlohmann::json health() const {
    return {{"stun_requests", requests_}, {"stun_rejected", rejected_}};
  }

 private:
  void wait(asio::ip::udp::socket& socket);
  void drain(asio::ip::udp::socket& socket);

  asio::ip::udp::socket v4_;
  std::optional<asio::ip::udp::socket> v6_;
  uint16_t port_ = 0;
  uint64_t requests_ = 0;
  uint64_t rejected_ = 0;
};

}  // namespace qvpn::core
