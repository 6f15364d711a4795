#pragma once
// The node: drives one dataplane::Device with real I/O. It owns the TUN device, the UDP
// socket and a timer, all on one Asio io_context thread, and moves packets in batches:
//   TUN readable  -> read packets (segmenting TSO super-packets) -> Device::handle_tun_packets
//                 -> sealed in place, on several cores (CryptoPool) -> sendmmsg with UDP GSO
//   UDP readable  -> recvmmsg with UDP GRO -> Device::handle_datagrams -> opened in place
//                 -> coalesced into TCP super-packets (GRO) -> TUN writes
//   timer         -> Device::tick, re-armed at Device::next_deadline()
// and implements the Device's Sink by writing to the socket and the TUN. The offloads are
// on by default, fall back silently where the kernel lacks them, and can be switched off.
// Configuration arrives from a config file (qvpn up) or the UAPI (wg set, qvpn-wg).
#include <asio.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/crypto_pool.h"
#include "core/nat_traversal.h"
#include "core/uapi_text.h"
#include "dataplane/device.h"
#include "dataplane/gro_coalesce.h"
#include "platform/netlink.h"
#include "platform/tun.h"
#include "platform/udp_socket.h"

namespace qvpn::core {

// The firewall mark and routing table of a full tunnel when the config sets no fwmark.
inline constexpr uint32_t kFullTunnelTable = 51820;

struct DataPathOptions {
  bool offload = true;  // TUN TSO/GRO and UDP GSO/GRO where the kernel has them
  unsigned threads = 0;  // cores sealing and opening packets; 0 = half the cores
};

class Node : private dataplane::Sink {
 public:
  // Creates the TUN device (an exact name, a pattern with %d, or "" for qvpn%d) and binds
  // the UDP port (0 = random). Throws std::system_error when either fails.
  Node(asio::io_context& io, std::string_view ifname, uint16_t listen_port,
       const DataPathOptions& options = {});
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
  // What the data path got from the kernel: offloads granted and crypto threads.
  bool tun_offload() const { return tun_.offload(); }
  bool udp_gso() const { return udp_.gso(); }
  bool udp_gro() const { return udp_.gro(); }
  unsigned crypto_threads() const { return crypto_.threads(); }
  // NAT traversal, when the config names relays; nullptr otherwise.
  NatTraversal* nat() { return nat_.get(); }

  // Starts reading; the node stops itself when the interface is deleted.
  void start();
  void stop();
  bool stopped() const { return stopped_; }

 private:
  // node_datapath.cc: the Sink, and the batch loops.
  void send_datagram(std::span<const uint8_t> bytes, const platform::Endpoint& to) override;
  void write_tun(std::span<const uint8_t> ip_packet) override;
  void send_datagrams(std::span<const platform::OutDatagram> datagrams) override;
  void write_tun_packets(std::span<const std::span<const uint8_t>> packets) override;
  void allocate_buffers();
  void set_mtu(size_t mtu);
  bool read_tun_into_slots();
  bool tun_read_ended();
  void seal_slots();

  void wait_tun();
  void wait_udp();
  void drain_tun();
  void drain_udp();
  void reschedule();
  void on_timer();
  bool rebind(uint16_t port);
  void route_everything(bool v4, bool v6);
  void start_nat(const Config& config, std::span<const std::optional<platform::Endpoint>> endpoints);

  asio::io_context& io_;
  DataPathOptions options_;
  platform::TunDevice tun_;
  platform::UdpSocket udp_;
  asio::posix::stream_descriptor tun_wait_;
  asio::posix::stream_descriptor udp_wait_;
  asio::steady_timer timer_;
  std::optional<platform::TimePoint> timer_at_;
  dataplane::Device device_;
  uint32_t fwmark_ = 0;
  std::vector<platform::RoutingRule> rules_;  // ours, removed when the node goes
  std::unique_ptr<NatTraversal> nat_;
  bool stopped_ = false;

  // Batch buffers, allocated once (pages are only touched as traffic needs them). Outbound
  // packets sit in fixed-size slots with room for the transport header, padding and tag.
  CryptoPool crypto_;
  size_t mtu_ = 0;
  size_t slot_stride_ = 0;
  size_t slot_count_ = 0;
  size_t slots_used_ = 0;
  std::unique_ptr<uint8_t[]> slots_;
  std::unique_ptr<uint8_t[]> tun_read_;  // one TUN read with offloads: header + 64 KiB
  std::vector<uint16_t> segment_sizes_;
  std::vector<std::span<uint8_t>> outbound_;
  std::unique_ptr<uint8_t[]> rx_buffers_;
  std::vector<platform::InDatagrams> rx_;
  std::vector<dataplane::InboundDatagram> inbound_;
  std::vector<uint8_t> gro_out_;
  std::vector<dataplane::GroWrite> gro_writes_;
  std::vector<platform::OutDatagram> routed_;  // a batch with NAT traversal's paths
};

}  // namespace qvpn::core
