#pragma once
// The node: drives one dataplane::Device with real I/O. It owns the TUN device, the UDP
// socket and a timer, all on one Asio io_context thread:
//   TUN readable  -> read packets   -> Device::handle_tun_packet
//   UDP readable  -> read datagrams -> Device::handle_datagram
//   timer         -> Device::tick, re-armed at Device::next_deadline()
// and implements the Device's Sink by writing to the socket and the TUN.
// Configuration arrives from a config file (qvpn up) or the UAPI (wg set, qvpn-wg).
#include <asio.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/uapi_text.h"
#include "dataplane/device.h"
#include "platform/netlink.h"
#include "platform/tun.h"
#include "platform/udp_socket.h"

namespace qvpn::core {

// The firewall mark and routing table of a full tunnel when the config sets no fwmark.
inline constexpr uint32_t kFullTunnelTable = 51820;

class Node : private dataplane::Sink {
 public:
  // Creates the TUN device (an exact name, a pattern with %d, or "" for qvpn%d) and binds
  // the UDP port (0 = random). Throws std::system_error when either fails.
  Node(asio::io_context& io, std::string_view ifname, uint16_t listen_port);
  ~Node() override;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const std::string& name() const { return tun_.name(); }
  uint16_t listen_port() const { return udp_.local_port(); }
  const dataplane::PublicKey& public_key() const { return device_.identity().public_key; }

  // Applies a whole config file: keys, port, peers, then MTU, addresses, link up and
  // routes for the peers' allowed IPs. Endpoints are resolved first, so a failure applies
  // nothing. Throws ConfigError or std::system_error.
  void apply_config(const Config& config);

  // The UAPI (wireguard.com/xplatform): state for get=1; set=1 applied in order, returning
  // 0 or a positive errno.
  UapiState uapi_state();
  int uapi_set(const UapiSet& set);
  const dataplane::DeviceCounters& counters() const { return device_.counters(); }

  // Starts reading; the node stops itself when the interface is deleted.
  void start();
  void stop();
  bool stopped() const { return stopped_; }

 private:
  void send_datagram(std::span<const uint8_t> bytes, const platform::Endpoint& to) override;
  void write_tun(std::span<const uint8_t> ip_packet) override;

  void wait_tun();
  void wait_udp();
  void drain_tun();
  void drain_udp();
  void reschedule();
  void on_timer();
  bool rebind(uint16_t port);
  void route_everything(bool v4, bool v6);

  asio::io_context& io_;
  platform::TunDevice tun_;
  platform::UdpSocket udp_;
  asio::posix::stream_descriptor tun_wait_;
  asio::posix::stream_descriptor udp_wait_;
  asio::steady_timer timer_;
  std::optional<platform::TimePoint> timer_at_;
  dataplane::Device device_;
  uint32_t fwmark_ = 0;
  std::vector<platform::RoutingRule> rules_;  // ours, removed when the node goes
  std::vector<uint8_t> buf_;
  bool stopped_ = false;
};

}  // namespace qvpn::core
