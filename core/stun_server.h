#pragma once
// The relay's STUN port: answers Binding requests (nat/stun.h) on every IPv4 address of the
// host, from the address each request was sent to, so that a client's NAT lets the answer
// through (the lab's relay has two addresses to tell hard NATs from easy ones).
#include <asio.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>

namespace qvpn::core {

class StunServer {
 public:
  // Binds UDP `port` on 0.0.0.0. Throws std::system_error.
  StunServer(asio::io_context& io, uint16_t port);
  uint16_t port() const { return port_; }
  uint64_t requests() const { return requests_; }
  uint64_t rejected() const { return rejected_; }
  nlohmann::json health() const { return {{"stun_requests", requests_}, {"stun_rejected", rejected_}}; }

 private:
  void wait();
  void drain();

  asio::ip::udp::socket socket_;
  uint16_t port_ = 0;
  uint64_t requests_ = 0;
  uint64_t rejected_ = 0;
};

}  // namespace qvpn::core
