// The batch paths of the Device: handle_tun_packets seals many packets in place in one AEAD
// call, handle_datagrams opens many; both must behave exactly like the one-packet paths.
#include <doctest/doctest.h>

#include <thread>

#include "sim/sim_pair.h"

using namespace qvpn;
using namespace qvpn::sim;

namespace {

// Packets laid out as the node lays them out: each in its own slot with the room the
// batch path needs around it.
struct Slots {
  static constexpr size_t kStride = 2048;
  std::vector<uint8_t> arena;
  std::vector<std::span<uint8_t>> packets;

  explicit Slots(const std::vector<std::vector<uint8_t>>& contents)
      : arena(contents.size() * kStride) {
    for (size_t i = 0; i < contents.size(); ++i) {
      uint8_t* at = arena.data() + i * kStride + dataplane::kBatchHeadroom;
      std::copy(contents[i].begin(), contents[i].end(), at);
      packets.emplace_back(at, contents[i].size());
    }
  }
};

std::vector<std::vector<uint8_t>> some_packets(size_t n) {
  std::vector<std::vector<uint8_t>> v;
  for (size_t i = 0; i < n; ++i) {
    v.push_back(ipv4_packet("10.0.0.1", "10.0.0.2", (i * 97) % 1392, uint8_t(i)));
  }
  return v;
}

// Takes the queued datagrams off the network without delivering them.
std::vector<Datagram> take_queue(SimNetwork& net) {
  std::vector<Datagram> out(net.queue.begin(), net.queue.end());
  net.queue.clear();
  return out;
}

void deliver_batch(SimNode& to, std::vector<Datagram>& datagrams, SimNetwork& net) {
  std::vector<dataplane::InboundDatagram> in;
  for (auto& d : datagrams) in.push_back({d.bytes, d.from});
  to.device->handle_datagrams(in, net.now(), to);
  net.pump();
}

}  // namespace

TEST_CASE("a batch sealed in place is opened by the one-packet path, in order") {
  Pair p;
  p.a_to_b();  // handshake
  p.b.delivered.clear();
  const auto packets = some_packets(64);
  Slots slots(packets);
  p.a.device->handle_tun_packets(slots.packets, p.net.now(), p.a);
  CHECK(p.net.queue.size() == 64);
  p.net.pump();
  REQUIRE(p.b.delivered.size() == 64);
  for (size_t i = 0; i < 64; ++i) CHECK(p.b.delivered[i] == packets[i]);
  CHECK(p.b.device->counters().drop_decrypt == 0);
}

TEST_CASE("a batch of datagrams is opened together, in order, and bad ones are dropped and counted") {
  Pair p;
  p.a_to_b();
  p.b.delivered.clear();
  const auto packets = some_packets(10);
  for (const auto& pkt : packets) p.a.device->handle_tun_packet(pkt, p.net.now(), p.a);
  auto datagrams = take_queue(p.net);
  REQUIRE(datagrams.size() == 10);

  // A mixed batch: garbage, a flipped bit in message 3, message 0 replayed at the end.
  datagrams[3].bytes[40] ^= 1;
  Datagram garbage{{1, 2, 3, 4, 5}, datagrams[0].from, datagrams[0].to};
  datagrams.insert(datagrams.begin() + 5, garbage);
  datagrams.push_back(datagrams[0]);
  const auto before = p.b.device->counters();
  deliver_batch(p.b, datagrams, p.net);

  REQUIRE(p.b.delivered.size() == 9);
  size_t k = 0;
  for (size_t i = 0; i < 10; ++i) {
    if (i != 3) CHECK(p.b.delivered[k++] == packets[i]);
  }
  const auto& after = p.b.device->counters();
  CHECK(after.drop_decrypt == before.drop_decrypt + 1);
  CHECK(after.drop_replay == before.drop_replay + 1);
  CHECK(after.drop_malformed == before.drop_malformed + 1);
  CHECK(after.rx_datagrams == before.rx_datagrams + 12);
}

TEST_CASE("a batch for a peer with no session stages its packets behind a handshake") {
  Pair p;
  const auto packets = some_packets(5);
  Slots slots(packets);
  p.a.device->handle_tun_packets(slots.packets, p.net.now(), p.a);
  p.net.pump();
  REQUIRE(p.b.delivered.size() == 5);
  for (size_t i = 0; i < 5; ++i) CHECK(p.b.delivered[i] == packets[i]);
  CHECK(p.a.device->counters().handshakes_initiated == 1);
}

TEST_CASE("a handshake in the middle of a batch settles the transport messages before it") {
  Pair p;
  p.a_to_b();
  p.b.delivered.clear();
  // Old-session messages, then a new initiation from a, then more messages under the old
  // session: all old-session data still arrives, and the handshake completes.
  const auto packets = some_packets(6);
  for (size_t i = 0; i < 3; ++i) p.a.device->handle_tun_packet(packets[i], p.net.now(), p.a);
  auto batch = take_queue(p.net);
  p.net.advance(std::chrono::seconds(121));  // a rekeys on its next send
  p.b.delivered.clear();
  p.a.device->handle_tun_packet(packets[3], p.net.now(), p.a);
  auto later = take_queue(p.net);  // the data packet and a new initiation
  batch.insert(batch.end(), later.begin(), later.end());
  const auto completed = p.b.device->counters().handshakes_completed;
  deliver_batch(p.b, batch, p.net);
  CHECK(p.b.delivered.size() >= 4);
  CHECK(p.b.device->counters().drop_decrypt == 0);
  CHECK(p.b.device->counters().handshakes_completed > completed);
}

TEST_CASE("a crypto runner may split the jobs across threads") {
  Pair p;
  size_t calls = 0;
  auto split = [&calls](std::span<dataplane::AeadJob> jobs, bool seal) {
    ++calls;
    const size_t half = jobs.size() / 2;
    auto run = [seal](std::span<dataplane::AeadJob> part) {
      seal ? dataplane::chacha20poly1305_seal(part) : dataplane::chacha20poly1305_open(part);
    };
    std::thread other(run, jobs.subspan(half));
    run(jobs.first(half));
    other.join();
  };
  p.a.device->set_crypto_runner(split);
  p.b.device->set_crypto_runner(split);
  p.a_to_b();
  p.b.delivered.clear();
  const auto packets = some_packets(33);
  Slots slots(packets);
  p.a.device->handle_tun_packets(slots.packets, p.net.now(), p.a);
  auto datagrams = take_queue(p.net);
  deliver_batch(p.b, datagrams, p.net);
  REQUIRE(p.b.delivered.size() == 33);
  for (size_t i = 0; i < 33; ++i) CHECK(p.b.delivered[i] == packets[i]);
  CHECK(calls == 2);
}
