#pragma once
// Test fixture: several sans-IO Devices wired through a simulated UDP network on a fake
// clock. Datagrams wait in a queue until pump() delivers them; a filter can drop, record or
// rewrite them, so tests can replay, reorder, lose and roam.
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "dataplane/device.h"
#include "dataplane/x25519.h"

namespace qvpn::sim {

using dataplane::Device;
using platform::Endpoint;
using platform::TimePoint;

struct Datagram {
  std::vector<uint8_t> bytes;
  Endpoint from;
  Endpoint to;
};

class SimNetwork;

struct SimNode : dataplane::Sink {
  SimNode(SimNetwork& net, Endpoint ep);
  void send_datagram(std::span<const uint8_t> bytes, const Endpoint& to) override;
  void write_tun(std::span<const uint8_t> ip_packet) override {
    delivered.emplace_back(ip_packet.begin(), ip_packet.end());
  }
  SimNetwork& net;
  Endpoint endpoint;
  dataplane::SecretKey private_key;
  dataplane::PublicKey public_key;
  std::unique_ptr<Device> device;
  std::vector<std::vector<uint8_t>> delivered;  // what reached this node's TUN
};

class SimNetwork {
 public:
  // Returns false to drop a datagram; may rewrite it.
  using Filter = std::function<bool(Datagram&)>;

  SimNode& add_node(const char* ip, uint16_t port);
  // a and b know each other: keys, endpoints, and allowed IPs a_ip/32 and b_ip/32.
  void connect(SimNode& a, const char* a_inner_ip, SimNode& b, const char* b_inner_ip);

  // Delivers queued datagrams (and what they cause) until none are left.
  void pump();
  // Moves the clock forward by d, firing device timers on the way, pumping each time.
  void advance(platform::Duration d);
  TimePoint now() const { return now_; }
  platform::WallTime wall() const {
    return platform::WallTime(std::chrono::seconds(1'700'000'000)) +
           std::chrono::duration_cast<std::chrono::system_clock::duration>(now_.time_since_epoch());
  }

  std::deque<Datagram> queue;
  Filter filter;
  std::vector<Datagram> log;  // every datagram sent, in order

 private:
  friend struct SimNode;
  std::vector<std::unique_ptr<SimNode>> nodes_;
  TimePoint now_{std::chrono::hours(1)};
};

// An IPv4/UDP packet from src to dst carrying payload, with a valid IPv4 header length.
std::vector<uint8_t> ipv4_packet(const char* src, const char* dst, size_t payload_size,
                                 uint8_t fill = 0xab);
std::vector<uint8_t> ipv6_packet(const char* src, const char* dst, size_t payload_size);

}  // namespace qvpn::sim
