#include "sim/sim_network.h"

#include <arpa/inet.h>

#include <algorithm>

namespace qvpn::sim {

SimNode::SimNode(SimNetwork& n, Endpoint ep)
    : net(n),
      endpoint(ep),
      private_key(dataplane::generate_private_key()),
      public_key(dataplane::public_key_of(private_key)),
      device(std::make_unique<Device>([&n] { return n.wall(); })) {
  device->set_private_key(private_key);
}

void SimNode::send_datagram(std::span<const uint8_t> bytes, const Endpoint& to) {
  Datagram d{{bytes.begin(), bytes.end()}, endpoint, to};
  net.log.push_back(d);
  net.queue.push_back(std::move(d));
}

SimNode& SimNetwork::add_node(const char* ip, uint16_t port) {
  Endpoint ep;
  ep.ip = *platform::IpAddress::parse(ip);
  ep.port = port;
  nodes_.push_back(std::make_unique<SimNode>(*this, ep));
  return *nodes_.back();
}

void SimNetwork::connect(SimNode& a, const char* a_inner, SimNode& b, const char* b_inner) {
  auto& pa = a.device->add_peer(b.public_key);
  a.device->set_endpoint(pa, b.endpoint);
  a.device->add_allowed_ip(pa, *dataplane::IpPrefix::parse(b_inner));
  auto& pb = b.device->add_peer(a.public_key);
  b.device->set_endpoint(pb, a.endpoint);
  b.device->add_allowed_ip(pb, *dataplane::IpPrefix::parse(a_inner));
}

void SimNetwork::pump() {
  for (int guard = 0; !queue.empty(); ++guard) {
    if (guard > 100000) throw std::runtime_error("simulated network did not settle");
    Datagram d = std::move(queue.front());
    queue.pop_front();
    if (filter && !filter(d)) continue;
    for (auto& node : nodes_) {
      if (node->endpoint == d.to) node->device->handle_datagram(d.bytes, d.from, now_, *node);
    }
  }
}

void SimNetwork::advance(platform::Duration d) {
  const TimePoint end = now_ + d;
  for (;;) {
    std::optional<TimePoint> next;
    for (auto& node : nodes_) {
      auto t = node->device->next_deadline();
      if (t && (!next || *t < *next)) next = t;
    }
    if (!next || *next > end) break;
    now_ = std::max(now_, *next);
    for (auto& node : nodes_) node->device->tick(now_, *node);
    pump();
  }
  now_ = end;
  pump();
}

namespace {

uint16_t checksum(const uint8_t* p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i]) << 8 | p[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
}

}  // namespace

std::vector<uint8_t> ipv4_packet(const char* src, const char* dst, size_t payload_size,
                                 uint8_t fill) {
  std::vector<uint8_t> p(20 + 8 + payload_size, fill);
  const size_t total = p.size();
  std::fill(p.begin(), p.begin() + 28, 0);
  p[0] = 0x45;
  p[2] = uint8_t(total >> 8);
  p[3] = uint8_t(total);
  p[8] = 64;
  p[9] = 17;  // UDP
  inet_pton(AF_INET, src, &p[12]);
  inet_pton(AF_INET, dst, &p[16]);
  const uint16_t c = checksum(p.data(), 20);
  p[10] = uint8_t(c >> 8);
  p[11] = uint8_t(c);
  p[24] = uint8_t((8 + payload_size) >> 8);
  p[25] = uint8_t(8 + payload_size);
  return p;
}

std::vector<uint8_t> ipv6_packet(const char* src, const char* dst, size_t payload_size) {
  std::vector<uint8_t> p(40 + payload_size, 0xcd);
  std::fill(p.begin(), p.begin() + 40, 0);
  p[0] = 0x60;
  p[4] = uint8_t(payload_size >> 8);
  p[5] = uint8_t(payload_size);
  p[6] = 59;  // no next header
  p[7] = 64;
  inet_pton(AF_INET6, src, &p[8]);
  inet_pton(AF_INET6, dst, &p[24]);
  return p;
}

}  // namespace qvpn::sim
