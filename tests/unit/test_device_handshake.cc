// Two sans-IO devices through the simulated network: handshake, data, rekey, expiry.
#include <doctest/doctest.h>

#include <cstring>

#include "dataplane/endian.h"
#include "sim/sim_pair.h"

using namespace qvpn;
using namespace qvpn::sim;
using namespace std::chrono_literals;

namespace {


uint32_t type_of(const Datagram& d) {
  uint32_t t;
  std::memcpy(&t, d.bytes.data(), 4);
  return dataplane::from_le(t);
}

}  // namespace

TEST_CASE("first packet triggers a handshake and arrives; data flows both ways") {
  Pair p;
  const auto pkt = ipv4_packet("10.0.0.1", "10.0.0.2", 100);
  p.a.device->handle_tun_packet(pkt, p.net.now(), p.a);
  p.net.pump();
  REQUIRE(p.b.delivered.size() == 1);
  CHECK(p.b.delivered[0] == pkt);
  // initiation, response, then the staged packet (no extra keepalive is needed)
  REQUIRE(p.net.log.size() == 3);
  CHECK(type_of(p.net.log[0]) == 1);
  CHECK(p.net.log[0].bytes.size() == 148);
  CHECK(type_of(p.net.log[1]) == 2);
  CHECK(p.net.log[1].bytes.size() == 92);
  CHECK(type_of(p.net.log[2]) == 4);
  // 128 bytes of IP, padded to 128, plus 32 of overhead
  CHECK(p.net.log[2].bytes.size() == 128 + 32);

  p.b_to_a(333);
  REQUIRE(p.a.delivered.size() == 1);
  CHECK(p.a.delivered[0].size() == 20 + 8 + 333);
  CHECK(p.a.device->counters().handshakes_completed == 1);
  CHECK(p.b.device->counters().handshakes_completed == 1);
  CHECK(p.peer_of_b_at_a().stats.last_handshake.has_value());
  CHECK(p.peer_of_a_at_b().stats.tx_bytes > 0);
}

TEST_CASE("IPv6 inside the tunnel") {
  Pair p;
  auto& pa = p.peer_of_b_at_a();
  p.a.device->add_allowed_ip(pa, *dataplane::IpPrefix::parse("fd00::2/128"));
  p.b.device->add_allowed_ip(p.peer_of_a_at_b(), *dataplane::IpPrefix::parse("fd00::1/128"));
  const auto pkt = ipv6_packet("fd00::1", "fd00::2", 1000);
  p.a.device->handle_tun_packet(pkt, p.net.now(), p.a);
  p.net.pump();
  REQUIRE(p.b.delivered.size() == 1);
  CHECK(p.b.delivered[0] == pkt);
}

TEST_CASE("responder keypair waits in next until the initiator confirms it") {
  Pair p;
  p.net.filter = [&](Datagram& d) { return type_of(d) != 4; };  // drop all data
  p.a_to_b();
  auto& at_b = p.peer_of_a_at_b();
  CHECK(at_b.keypairs.next != nullptr);
  CHECK(at_b.keypairs.current == nullptr);
  p.net.filter = nullptr;
  p.a_to_b();
  CHECK(at_b.keypairs.next == nullptr);
  CHECK(at_b.keypairs.current != nullptr);
}

TEST_CASE("rekey after Rekey-After-Time keeps traffic flowing") {
  Pair p;
  p.a_to_b();
  const uint32_t first_index = p.peer_of_b_at_a().keypairs.current->local_index;
  size_t sent = 1;
  for (int s = 0; s < 130; ++s) {
    p.net.advance(1s);
    p.a_to_b();
    p.b_to_a();
    ++sent;
  }
  CHECK(p.b.delivered.size() == sent);
  CHECK(p.a.delivered.size() == sent - 1);
  CHECK(p.a.device->counters().handshakes_completed >= 2);
  CHECK(p.peer_of_b_at_a().keypairs.current->local_index != first_index);
  CHECK(p.peer_of_b_at_a().keypairs.previous != nullptr);
}

TEST_CASE("rekey after Rekey-After-Messages") {
  Pair p;
  p.a_to_b();
  auto& kp = *p.peer_of_b_at_a().keypairs.current;
  const auto initiations = p.a.device->counters().handshakes_initiated;
  p.net.advance(6s);  // past Rekey-Timeout, so a new initiation is allowed
  p.peer_of_b_at_a().keypairs.current->send_counter = dataplane::kRekeyAfterMessages + 1;
  // The receiver's window would reject a jump this size only if it were replayed; it is not.
  p.a_to_b();
  CHECK(&kp != p.peer_of_b_at_a().keypairs.current.get());
  CHECK(p.a.device->counters().handshakes_initiated == initiations + 1);
  CHECK(p.b.delivered.size() == 2);
}

TEST_CASE("a session that reaches Reject-After-Messages stops sending and rehandshakes") {
  Pair p;
  p.a_to_b();
  p.net.advance(6s);
  auto* old = p.peer_of_b_at_a().keypairs.current.get();
  old->send_counter = dataplane::kRejectAfterMessages;
  p.a_to_b();
  CHECK(p.peer_of_b_at_a().keypairs.current.get() != old);
  CHECK(p.b.delivered.size() == 2);
}

TEST_CASE("replayed and reordered transport packets") {
  Pair p;
  p.a_to_b();
  std::vector<Datagram> held;
  p.net.filter = [&](Datagram& d) {
    if (type_of(d) == 4) {
      held.push_back(d);
      return false;
    }
    return true;
  };
  for (int i = 0; i < 50; ++i) p.a_to_b(10 + i);
  p.net.filter = nullptr;
  REQUIRE(held.size() == 50);
  // Deliver in reverse order: all inside the window, all accepted.
  for (auto it = held.rbegin(); it != held.rend(); ++it) p.net.queue.push_back(*it);
  p.net.pump();
  CHECK(p.b.delivered.size() == 51);
  // Replay all of them: every one dropped and counted.
  for (auto& d : held) p.net.queue.push_back(d);
  p.net.pump();
  CHECK(p.b.delivered.size() == 51);
  CHECK(p.b.device->counters().drop_replay == 50);
}

TEST_CASE("roaming: the endpoint follows the latest authenticated source") {
  Pair p;
  p.a_to_b();
  Endpoint moved = p.a.endpoint;
  moved.port = 40000;
  p.net.filter = [&](Datagram& d) {
    if (d.from == p.a.endpoint) d.from = moved;
    return true;
  };
  p.a_to_b();
  CHECK(*p.peer_of_a_at_b().endpoint == moved);
  // A forged packet from elsewhere does not move it.
  Datagram forged = p.net.log.back();
  forged.bytes[20] ^= 1;
  forged.from.port = 1;
  p.net.queue.push_back(forged);
  p.net.pump();
  CHECK(*p.peer_of_a_at_b().endpoint == moved);
  CHECK(p.b.device->counters().drop_decrypt == 1);
}

TEST_CASE("an inner source address outside the peer's allowed IPs is dropped") {
  Pair p;
  p.a_to_b();
  p.a.device->handle_tun_packet(ipv4_packet("10.9.9.9", "10.0.0.2", 50), p.net.now(), p.a);
  p.net.pump();
  CHECK(p.b.delivered.size() == 1);
  CHECK(p.b.device->counters().drop_source_not_allowed == 1);
}

TEST_CASE("session expiry: Reject-After-Time, then keys zeroed after 3 x Reject-After-Time") {
  Pair p;
  p.a_to_b();
  p.b_to_a();
  p.net.filter = [](Datagram&) { return false; };  // the network goes away
  p.net.advance(181s);
  CHECK_FALSE(p.peer_of_b_at_a().keypairs.current->can_send(p.net.now()));
  p.net.advance(541s);
  CHECK(p.peer_of_b_at_a().keypairs.current == nullptr);
  CHECK(p.peer_of_a_at_b().keypairs.current == nullptr);
  CHECK(p.peer_of_a_at_b().keypairs.next == nullptr);
  // Traffic afterwards makes a fresh session (an initiation may have to wait out
  // Rekey-Timeout after the last unanswered one).
  p.net.filter = nullptr;
  for (int i = 0; i < 10 && p.b.delivered.size() < 2; ++i) {
    p.a_to_b();
    p.net.advance(1s);
  }
  CHECK(p.b.delivered.size() >= 2);
}

TEST_CASE("handshake retries every Rekey-Timeout and give up after Rekey-Attempt-Time") {
  Pair p;
  p.net.filter = [](Datagram&) { return false; };
  p.a_to_b();
  p.net.advance(120s);
  const auto initiations = p.a.device->counters().handshakes_initiated;
  // The first initiation, then a retry for each attempt count 0..kMaxTimerHandshakes, as
  // the Linux module's wg_expired_retransmit_handshake does.
  CHECK(initiations == dataplane::kMaxTimerHandshakes + 2);
  CHECK(p.peer_of_b_at_a().staged.empty());
  p.net.advance(60s);
  CHECK(p.a.device->counters().handshakes_initiated == initiations);
}

TEST_CASE("passive keepalive after Keepalive-Timeout when only one side sends") {
  Pair p;
  p.a_to_b();
  const size_t before = p.net.log.size();
  p.net.advance(11s);
  REQUIRE(p.net.log.size() == before + 1);
  CHECK(p.net.log.back().from == p.b.endpoint);
  CHECK(p.net.log.back().bytes.size() == dataplane::kKeepaliveSize);
}

TEST_CASE("persistent keepalive") {
  Pair p;
  p.a.device->set_persistent_keepalive(p.peer_of_b_at_a(), 25, p.net.now(), p.a);
  p.net.pump();
  CHECK(p.a.device->counters().handshakes_completed == 1);  // the first keepalive handshakes
  const size_t before = p.net.log.size();
  p.net.advance(100s);
  size_t keepalives = 0;
  for (size_t i = before; i < p.net.log.size(); ++i) {
    if (p.net.log[i].from == p.a.endpoint && p.net.log[i].bytes.size() == 32) ++keepalives;
  }
  CHECK(keepalives == 4);
}

TEST_CASE("preshared key: both sides must agree") {
  Pair p;
  dataplane::SecretKey psk = dataplane::generate_private_key();
  p.a.device->set_preshared_key(p.peer_of_b_at_a(), psk);
  p.a_to_b();
  CHECK(p.b.delivered.empty());
  CHECK(p.a.device->counters().drop_handshake_invalid == 1);
  p.b.device->set_preshared_key(p.peer_of_a_at_b(), psk);
  p.net.advance(6s);
  CHECK(p.b.delivered.size() == 1);
}
