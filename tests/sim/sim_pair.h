#pragma once
// Two nodes that know each other, a at 10.0.0.1 and b at 10.0.0.2 inside the tunnel, on
// one simulated network: the fixture of the device tests.
#include <vector>

#include "sim/sim_network.h"

namespace qvpn::sim {

struct Pair {
  SimNetwork net;
  SimNode& a = net.add_node("192.0.2.1", 51820);
  SimNode& b = net.add_node("198.51.100.2", 51821);
  Pair() { net.connect(a, "10.0.0.1/32", b, "10.0.0.2/32"); }
  dataplane::Peer& peer_of_b_at_a() { return *a.device->find_peer(b.public_key); }
  dataplane::Peer& peer_of_a_at_b() { return *b.device->find_peer(a.public_key); }
  void a_to_b(size_t n = 100) {
    a.device->handle_tun_packet(ipv4_packet("10.0.0.1", "10.0.0.2", n), net.now(), a);
    net.pump();
  }
  void b_to_a(size_t n = 100) {
    b.device->handle_tun_packet(ipv4_packet("10.0.0.2", "10.0.0.1", n), net.now(), b);
    net.pump();
  }
  // Queues bytes from `from` to `to` and delivers everything queued.
  void inject(const std::vector<uint8_t>& bytes, const Endpoint& from, const SimNode& to) {
    net.queue.push_back({bytes, from, to.endpoint});
    net.pump();
  }
};

}  // namespace qvpn::sim
