// Hostile input against a Device through the simulated network: garbage, wrong sizes, bad
// MACs, unknown keys, replays, forged transport packets, the cookie path under load, and
// floods. Every case checks that the drop is counted in the DeviceCounters field named for
// it, that nothing reaches the TUN, and that the legitimate peer still gets through.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>
#include <random>

#include "dataplane/aead.h"
#include "dataplane/endian.h"
#include "dataplane/noise.h"
#include "dataplane/tai64n.h"
#include "sim/sim_pair.h"

using namespace qvpn;
using namespace qvpn::sim;
using namespace std::chrono_literals;
using dataplane::DeviceCounters;

namespace {


// A source no node listens on: whatever the device answers to it goes nowhere.
Endpoint attacker(uint16_t port = 6666) {
  Endpoint ep;
  ep.ip = *platform::IpAddress::parse("203.0.113.66");
  ep.port = port;
  return ep;
}

uint32_t type_of(const Datagram& d) {
  uint32_t t;
  std::memcpy(&t, d.bytes.data(), 4);
  return dataplane::from_le(t);
}

void set_type(std::vector<uint8_t>& bytes, uint32_t type) {
  const uint32_t le = dataplane::to_le(type);
  std::memcpy(bytes.data(), &le, 4);
}

// Every reason a datagram can be dropped. A hostile datagram adds exactly one.
uint64_t drops(const DeviceCounters& c) {
  return c.drop_malformed + c.drop_bad_mac1 + c.drop_rate_limited + c.drop_unknown_peer +
         c.drop_handshake_invalid + c.drop_unknown_index + c.drop_expired_keypair + c.drop_decrypt +
         c.drop_replay + c.drop_source_not_allowed + c.drop_inner_malformed;
}

std::vector<uint8_t> random_bytes(std::mt19937& rng, size_t n) {
  std::vector<uint8_t> out(n);
  for (auto& byte : out) byte = static_cast<uint8_t>(rng());
  return out;
}

// A handshake initiation with random contents and a valid MAC1 for `to`: it passes the
// cheap check and costs the responder a Diffie-Hellman before Noise rejects it.
std::vector<uint8_t> junk_initiation(dataplane::CookieMaker& maker, TimePoint now) {
  std::vector<uint8_t> msg(dataplane::kHandshakeInitiationSize);
  dataplane::random_bytes(msg);
  set_type(msg, 1);
  maker.add_macs(msg, now);
  return msg;
}

// The first (or last) datagram of a type sent from an endpoint; the test stops if none.
const Datagram& first_of_type(const SimNetwork& net, uint32_t type, const Endpoint& from) {
  const auto it = std::find_if(net.log.begin(), net.log.end(), [&](const Datagram& d) {
    return type_of(d) == type && d.from == from;
  });
  REQUIRE(it != net.log.end());
  return *it;
}

const Datagram& last_of_type(const SimNetwork& net, uint32_t type, const Endpoint& from) {
  const auto it = std::find_if(net.log.rbegin(), net.log.rend(), [&](const Datagram& d) {
    return type_of(d) == type && d.from == from;
  });
  REQUIRE(it != net.log.rend());
  return *it;
}

bool all_zero(std::span<const uint8_t> s) {
  return std::all_of(s.begin(), s.end(), [](uint8_t x) { return x == 0; });
}

// One packet each way gets through, handshaking first if need be (and, under load, waiting
// out a cookie round trip and Rekey-Timeout).
void expect_tunnel_works(Pair& p) {
  const size_t at_b = p.b.delivered.size();
  p.a_to_b();
  for (int i = 0; i < 30 && p.b.delivered.size() == at_b; ++i) p.net.advance(1s);
  CHECK(p.b.delivered.size() == at_b + 1);
  const size_t at_a = p.a.delivered.size();
  p.b_to_a();
  for (int i = 0; i < 30 && p.a.delivered.size() == at_a; ++i) p.net.advance(1s);
  CHECK(p.a.delivered.size() == at_a + 1);
}


}  // namespace

TEST_CASE("random datagrams of every length are dropped, counted once each, never delivered") {
  Pair p;
  p.a_to_b();
  p.b_to_a();
  const Endpoint a_ep = *p.peer_of_a_at_b().endpoint;
  const DeviceCounters before = p.b.device->counters();
  std::mt19937 rng(20240601);
  uint64_t sent = 0;
  auto hostile = [&](std::vector<uint8_t> bytes) {
    p.inject(bytes, attacker(), p.b);
    ++sent;
    // The same with each real type, so the size checks behind the type are reached too.
    for (uint32_t type = 1; type <= 4 && bytes.size() >= 4; ++type) {
      set_type(bytes, type);
      p.inject(bytes, attacker(), p.b);
      ++sent;
    }
  };
  for (size_t len = 0; len <= 200; ++len) hostile(random_bytes(rng, len));
  for (size_t len : {size_t{255}, size_t{256}, size_t{1420}, size_t{1500}, size_t{4096},
                     size_t{65535}, dataplane::kMaxMessageSize - 1, dataplane::kMaxMessageSize,
                     dataplane::kMaxMessageSize + 1, size_t{70000}}) {
    hostile(random_bytes(rng, len));
  }

  const DeviceCounters& after = p.b.device->counters();
  CHECK(after.rx_datagrams - before.rx_datagrams == sent);
  CHECK(drops(after) - drops(before) == sent);
  CHECK(after.drop_malformed > before.drop_malformed);
  CHECK(after.drop_bad_mac1 - before.drop_bad_mac1 == 2);  // the 148- and 92-byte ones
  CHECK(after.drop_unknown_index > before.drop_unknown_index);
  CHECK(after.handshakes_completed == before.handshakes_completed);
  CHECK(p.b.delivered.size() == 1);
  CHECK(*p.peer_of_a_at_b().endpoint == a_ep);
  expect_tunnel_works(p);
}

TEST_CASE("each message type one byte short or long, or with a nonzero upper type byte") {
  Pair p;
  p.a_to_b();
  const auto init = first_of_type(p.net, 1, p.a.endpoint).bytes;
  const auto resp = first_of_type(p.net, 2, p.b.endpoint).bytes;
  const auto data = last_of_type(p.net, 4, p.a.endpoint).bytes;
  const auto cookie = [&] {
    std::vector<uint8_t> v(dataplane::kCookieReplySize, 0);
    set_type(v, 3);
    std::memcpy(v.data() + 4, resp.data() + 8, 4);  // to A's index, so only size is wrong
    return v;
  }();

  struct Case {
    std::vector<uint8_t> bytes;
    bool to_a;
  };
  std::vector<Case> cases;
  auto resized = [](std::vector<uint8_t> v, size_t n) {
    v.resize(n, 0);
    return v;
  };
  for (const auto* msg : {&init, &resp, &cookie}) {
    const bool to_a = msg != &init;
    cases.push_back({resized(*msg, msg->size() - 1), to_a});
    cases.push_back({resized(*msg, msg->size() + 1), to_a});
  }
  cases.push_back({resized(data, dataplane::kKeepaliveSize - 1), false});
  cases.push_back({resized(data, dataplane::kMaxMessageSize + 1), false});
  // Types are one little-endian word: 1 followed by anything but three zero bytes is not 1.
  for (const auto* msg : {&init, &resp, &cookie, &data}) {
    for (size_t byte = 1; byte < 4; ++byte) {
      for (uint8_t value : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}}) {
        auto v = *msg;
        v[byte] = value;
        cases.push_back({v, msg == &resp || msg == &cookie});
      }
    }
  }

  const uint64_t malformed_a = p.a.device->counters().drop_malformed;
  const uint64_t malformed_b = p.b.device->counters().drop_malformed;
  const uint64_t drops_a = drops(p.a.device->counters());
  const uint64_t drops_b = drops(p.b.device->counters());
  uint64_t n_a = 0, n_b = 0;
  for (const auto& c : cases) {
    // From the peer's own endpoint: even there, a wrong size must not be trusted.
    if (c.to_a) {
      p.inject(c.bytes, p.b.endpoint, p.a);
      ++n_a;
    } else {
      p.inject(c.bytes, p.a.endpoint, p.b);
      ++n_b;
    }
  }
  CHECK(p.a.device->counters().drop_malformed - malformed_a == n_a);
  CHECK(p.b.device->counters().drop_malformed - malformed_b == n_b);
  CHECK(drops(p.a.device->counters()) - drops_a == n_a);
  CHECK(drops(p.b.device->counters()) - drops_b == n_b);
  CHECK(p.b.delivered.size() == 1);
  CHECK(p.a.delivered.empty());
  expect_tunnel_works(p);
}

TEST_CASE("initiation and response with a wrong MAC1 are dropped before any Noise work") {
  Pair p;
  std::optional<Datagram> init, resp;
  p.net.filter = [&](Datagram& d) {
    if (type_of(d) == 1 && !init) {
      init = d;
      return false;
    }
    if (type_of(d) == 2 && !resp) {
      resp = d;
      return false;
    }
    return true;
  };
  p.a_to_b();  // the initiation is held
  REQUIRE(init);

  const size_t sent = p.net.log.size();
  for (size_t at : {size_t{0} + 4, size_t{40}, dataplane::kInitiationMac1Offset,
                    dataplane::kInitiationMac1Offset + dataplane::kMacSize - 1}) {
    Datagram bad = *init;
    bad.bytes[at] ^= 0x01;  // the body is covered by MAC1 too
    p.inject(bad.bytes, bad.from, p.b);
  }
  CHECK(p.b.device->counters().drop_bad_mac1 == 4);
  CHECK(p.b.device->counters().drop_handshake_invalid == 0);
  CHECK(p.net.log.size() == sent);  // no answer at all
  CHECK(p.peer_of_a_at_b().keypairs.next == nullptr);

  p.net.queue.push_back(*init);  // the genuine one: B answers, the answer is held
  p.net.pump();
  REQUIRE(resp);
  for (size_t at : {size_t{8}, dataplane::kResponseMac1Offset}) {
    Datagram bad = *resp;
    bad.bytes[at] ^= 0x80;
    p.inject(bad.bytes, bad.from, p.a);
  }
  CHECK(p.a.device->counters().drop_bad_mac1 == 2);
  CHECK(p.peer_of_b_at_a().keypairs.current == nullptr);
  CHECK(p.b.delivered.empty());

  p.net.filter = nullptr;
  p.net.queue.push_back(*resp);
  p.net.pump();
  CHECK(p.a.device->counters().handshakes_completed == 1);
  CHECK(p.b.delivered.size() == 1);  // the staged packet
  expect_tunnel_works(p);
}

TEST_CASE("an initiation with a valid MAC1 from a key the device does not know") {
  Pair p;
  p.a_to_b();
  // C knows B and can address it (MAC1 needs only B's public key); B does not know C.
  SimNode& c = p.net.add_node("203.0.113.7", 51822);
  auto& b_at_c = c.device->add_peer(p.b.public_key);
  c.device->set_endpoint(b_at_c, p.b.endpoint);
  c.device->add_allowed_ip(b_at_c, *dataplane::IpPrefix::parse("10.0.0.2/32"));
  const size_t sent = p.net.log.size();
  c.device->handle_tun_packet(ipv4_packet("10.0.0.3", "10.0.0.2", 40), p.net.now(), c);
  p.net.pump();

  const auto& counters = p.b.device->counters();
  CHECK(p.net.log.size() == sent + 1);  // C's initiation, and no answer
  CHECK(counters.drop_unknown_peer == 1);
  CHECK(counters.drop_bad_mac1 == 0);
  CHECK(counters.drop_handshake_invalid == 0);
  CHECK(p.b.device->peers().size() == 1);
  CHECK(p.b.delivered.size() == 1);
  // Its retries fare no better.
  p.net.advance(12s);
  CHECK(counters.drop_unknown_peer >= 2);
  CHECK(c.delivered.empty());
  CHECK(p.b.delivered.size() == 1);
  expect_tunnel_works(p);
}

TEST_CASE("a replayed initiation is refused and does not disturb the session") {
  Pair p;
  p.a_to_b();
  p.b_to_a();
  const Datagram init = first_of_type(p.net, 1, p.a.endpoint);
  auto& at_b = p.peer_of_a_at_b();
  const dataplane::Keypair* current = at_b.keypairs.current.get();
  REQUIRE(current != nullptr);
  const uint32_t index = current->local_index;
  const Endpoint a_ep = *at_b.endpoint;
  const auto initiated = p.a.device->counters().handshakes_initiated;
  const size_t sent = p.net.log.size();

  p.net.advance(1s);
  p.net.queue.push_back(init);  // from A's own address
  Datagram moved = init;        // and from elsewhere, as an attacker would
  moved.from = attacker();
  p.net.queue.push_back(moved);
  p.net.pump();

  CHECK(p.b.device->counters().drop_handshake_invalid == 2);
  CHECK(p.net.log.size() == sent);  // no response
  // The response replayed to A finds no handshake waiting on its index.
  p.net.queue.push_back(first_of_type(p.net, 2, p.b.endpoint));
  p.net.pump();
  CHECK(p.a.device->counters().drop_unknown_index == 1);
  CHECK(p.net.log.size() == sent);
  CHECK(at_b.keypairs.current.get() == current);
  CHECK(at_b.keypairs.current->local_index == index);
  CHECK(at_b.keypairs.next == nullptr);
  CHECK(*at_b.endpoint == a_ep);
  // The old session carries on; no new handshake was needed.
  p.a_to_b();
  p.b_to_a();
  CHECK(p.b.delivered.size() == 2);
  CHECK(p.a.delivered.size() == 2);
  CHECK(p.a.device->counters().handshakes_initiated == initiated);
  CHECK(at_b.keypairs.current.get() == current);
}

TEST_CASE("an initiation that claims a peer's key without its private key") {
  Pair p;
  p.a_to_b();
  p.b_to_a();
  auto& at_b = p.peer_of_a_at_b();
  const dataplane::Keypair* current = at_b.keypairs.current.get();
  const Endpoint a_ep = *at_b.endpoint;
  // Anyone can encrypt A's public key to B (e, es, s); only A can compute ss, so the
  // timestamp box fails. A far-future timestamp must not be remembered, or A would be
  // locked out.
  dataplane::LocalIdentity forger;
  forger.private_key = dataplane::generate_private_key();
  forger.public_key = p.a.public_key;
  forger.present = true;
  dataplane::Handshake hs;
  hs.remote_static = p.b.public_key;
  hs.precompute(forger);
  dataplane::HandshakeInitiation msg;
  REQUIRE(dataplane::create_initiation(msg, hs, forger, 0x1234,
                                       dataplane::tai64n_from(p.net.wall() + 24h * 365)));
  std::vector<uint8_t> bytes(sizeof msg);
  std::memcpy(bytes.data(), &msg, sizeof msg);
  dataplane::CookieMaker maker;
  maker.init(p.b.public_key);
  maker.add_macs(bytes, p.net.now());
  p.net.advance(1s);
  const size_t sent = p.net.log.size();
  p.inject(bytes, attacker(), p.b);
  p.inject(bytes, p.a.endpoint, p.b);
  CHECK(p.b.device->counters().drop_handshake_invalid == 2);
  CHECK(p.b.device->counters().drop_unknown_peer == 0);
  CHECK(p.net.log.size() == sent);
  CHECK(at_b.keypairs.current.get() == current);
  CHECK(at_b.keypairs.next == nullptr);
  CHECK(*at_b.endpoint == a_ep);

  // A, starting over with B (so it must handshake afresh), is still accepted.
  p.a.device->remove_peer(p.b.public_key);
  auto& b_at_a = p.a.device->add_peer(p.b.public_key);
  p.a.device->set_endpoint(b_at_a, p.b.endpoint);
  p.a.device->add_allowed_ip(b_at_a, *dataplane::IpPrefix::parse("10.0.0.2/32"));
  const auto completed = p.b.device->counters().handshakes_completed;
  expect_tunnel_works(p);
  CHECK(p.b.device->counters().handshakes_completed == completed + 1);
  CHECK(p.b.device->counters().drop_handshake_invalid == 2);
}

TEST_CASE("transport packets: unknown index, bad tag, tampered header, replay, huge counter") {
  Pair p;
  p.a_to_b();
  const Datagram data = last_of_type(p.net, 4, p.a.endpoint);
  const Endpoint a_ep = *p.peer_of_a_at_b().endpoint;
  const DeviceCounters before = p.b.device->counters();
  auto forged = [&](auto&& edit) {
    Datagram d = data;
    edit(d.bytes);
    p.inject(d.bytes, attacker(), p.b);
  };

  forged([](auto& v) { v[4] ^= 0xff; });                         // receiver index
  forged([](auto& v) { v.back() ^= 0x01; });                     // tag
  forged([](auto& v) { v[20] ^= 0x01; });                        // ciphertext
  forged([](auto& v) { v[8] ^= 0x01; });                         // counter, which is the nonce
  forged([](auto& v) { v.resize(dataplane::kKeepaliveSize); });  // cut to a keepalive's size
  forged([](auto& v) { std::memset(v.data() + 8, 0xff, 8); });   // beyond Reject-After-Messages
  const DeviceCounters& mid = p.b.device->counters();
  CHECK(mid.drop_unknown_index - before.drop_unknown_index == 1);
  CHECK(mid.drop_decrypt - before.drop_decrypt == 4);
  CHECK(mid.drop_expired_keypair - before.drop_expired_keypair == 1);
  CHECK(*p.peer_of_a_at_b().endpoint == a_ep);  // forgeries never roam the peer

  // The genuine packet again, from A and from elsewhere.
  p.inject(data.bytes, data.from, p.b);
  p.inject(data.bytes, attacker(), p.b);
  const DeviceCounters& after = p.b.device->counters();
  CHECK(after.drop_replay - before.drop_replay == 2);
  CHECK(drops(after) - drops(before) == 8);
  CHECK(p.b.delivered.size() == 1);
  CHECK(*p.peer_of_a_at_b().endpoint == a_ep);
  expect_tunnel_works(p);
}

TEST_CASE("under load: cookie replies, MAC2 on the retransmit, then per-source rate limit") {
  Pair p;
  p.b.device->set_under_load_threshold(1);
  dataplane::CookieMaker junk_maker;  // anyone who knows B's public key can make MAC1
  junk_maker.init(p.b.public_key);

  // A flood of valid-MAC1 initiations puts B under load; it answers with cookies.
  for (int i = 0; i < 20; ++i) p.inject(junk_initiation(junk_maker, p.net.now()), attacker(), p.b);
  CHECK(p.b.device->counters().drop_handshake_invalid == 1);  // the first, before the load
  CHECK(p.b.device->counters().cookie_replies_sent == 19);
  {
    dataplane::CookieReply reply;
    const auto& d = p.net.log.back();
    REQUIRE(d.bytes.size() == sizeof reply);
    CHECK(d.to == attacker());
    std::memcpy(&reply, d.bytes.data(), sizeof reply);
    // The reply answers the last message and proves only the source address.
    CHECK(junk_maker.consume_reply(reply, p.net.now()));
    junk_maker.init(p.b.public_key);  // forget that cookie: the junk below must lack MAC2
  }

  // Keep B under load whenever A's initiations arrive.
  p.net.filter = [&](Datagram& d) {
    if (type_of(d) == 1 && d.from == p.a.endpoint) {
      for (int i = 0; i < 2; ++i) {
        p.b.device->handle_datagram(junk_initiation(junk_maker, p.net.now()), attacker(),
                                    p.net.now(), p.b);
      }
    }
    return true;
  };
  p.a_to_b();
  const Datagram first = first_of_type(p.net, 1, p.a.endpoint);
  CHECK(all_zero(std::span(first.bytes).last(dataplane::kMacSize)));  // no cookie yet
  const Datagram reply = last_of_type(p.net, 3, p.b.endpoint);
  CHECK(reply.to == p.a.endpoint);
  CHECK(p.b.delivered.empty());
  CHECK(p.a.device->counters().handshakes_completed == 0);
  CHECK(p.a.device->counters().drop_handshake_invalid == 0);  // A took the cookie
  // A reply is good for one message only: the same reply again is refused.
  p.net.queue.push_back(reply);
  p.net.pump();
  CHECK(p.a.device->counters().drop_handshake_invalid == 1);

  // After Rekey-Timeout A retransmits with MAC2 and, though B is still under load, the
  // handshake completes and the staged packet arrives.
  const auto replies = p.b.device->counters().cookie_replies_sent;
  p.net.advance(dataplane::kRekeyTimeout + 1s);
  const Datagram retry = last_of_type(p.net, 1, p.a.endpoint);
  CHECK(!all_zero(std::span(retry.bytes).last(dataplane::kMacSize)));
  CHECK(p.a.device->counters().handshakes_completed == 1);
  CHECK(p.b.device->counters().handshakes_completed == 1);
  CHECK(p.b.delivered.size() == 1);
  size_t replies_to_a = 0;
  for (const auto& d : p.net.log) replies_to_a += type_of(d) == 3 && d.to == p.a.endpoint;
  CHECK(replies_to_a == 1);
  // Of the two junk messages injected alongside the retry, the second (B under load again)
  // was answered with a cookie; the retry itself, carrying MAC2, was not.
  CHECK(p.b.device->counters().cookie_replies_sent - replies == 1);

  // The retry, replayed: its MAC2 is still good, so only the rate limiter stands in the way.
  p.net.filter = nullptr;
  for (int i = 0; i < 2; ++i) {
    p.b.device->handle_datagram(junk_initiation(junk_maker, p.net.now()), attacker(), p.net.now(),
                                p.b);
  }
  const DeviceCounters before = p.b.device->counters();
  constexpr int kReplays = 20;
  for (int i = 0; i < kReplays; ++i) p.net.queue.push_back(retry);
  p.net.pump();
  const DeviceCounters& after = p.b.device->counters();
  CHECK(after.drop_rate_limited - before.drop_rate_limited ==
        kReplays - dataplane::kHandshakeBurst);
  // The few let through are stale to Noise.
  CHECK(after.drop_handshake_invalid - before.drop_handshake_invalid == dataplane::kHandshakeBurst);
  CHECK(after.cookie_replies_sent == before.cookie_replies_sent);
  CHECK(p.b.delivered.size() == 1);
  expect_tunnel_works(p);
}

TEST_CASE("a flood of 10000 forged initiations is cheap and the real peer still handshakes") {
  Pair p;
  std::mt19937 rng(7);
  struct Discard : dataplane::Sink {
    void send_datagram(std::span<const uint8_t>, const Endpoint&) override { ++sent; }
    void write_tun(std::span<const uint8_t>) override { ++written; }
    size_t sent = 0, written = 0;
  } discard;
  constexpr int kFlood = 10000;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < kFlood; ++i) {
    auto msg = random_bytes(rng, dataplane::kHandshakeInitiationSize);
    set_type(msg, 1);
    Endpoint src = attacker(static_cast<uint16_t>(1024 + i));
    src.ip.bytes[3] = static_cast<uint8_t>(i);
    p.b.device->handle_datagram(msg, src, p.net.now(), discard);
  }
  const auto took = std::chrono::steady_clock::now() - started;
  MESSAGE("10000 forged initiations took "
          << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  CHECK(took < 5s);  // MAC1 alone rejects them: no Diffie-Hellman
  CHECK(p.b.device->counters().drop_bad_mac1 == kFlood);
  CHECK(discard.sent == 0);
  CHECK(discard.written == 0);
  CHECK(p.b.device->rate_limiter().entries() <= dataplane::RateLimiter::kMaxEntries);
  // B is now under load, so A's first initiation earns a cookie and its retry gets through.
  expect_tunnel_works(p);
  CHECK(p.a.device->counters().handshakes_completed == 1);
  CHECK(p.b.device->rate_limiter().entries() <= dataplane::RateLimiter::kMaxEntries);
}

TEST_CASE("a flood from 10000 sources that each earn a cookie keeps the rate limiter bounded") {
  Pair p;
  p.b.device->set_under_load_threshold(1);
  dataplane::CookieMaker maker;
  maker.init(p.b.public_key);
  struct Capture : dataplane::Sink {
    void send_datagram(std::span<const uint8_t> bytes, const Endpoint&) override {
      last.assign(bytes.begin(), bytes.end());
      ++sent;
    }
    void write_tun(std::span<const uint8_t>) override { ++written; }
    std::vector<uint8_t> last;
    size_t sent = 0, written = 0;
  } capture;
  // Source i sends a valid-MAC1 initiation; if B answers with a cookie (it is under load),
  // the source opens it and sends again with MAC2, which reaches the rate limiter.
  auto earn_cookie_and_send = [&](int i) {
    Endpoint src;
    src.ip.bytes = {10, uint8_t(100 + (i >> 16)), uint8_t(i >> 8), uint8_t(i)};
    src.port = 40000;
    auto msg = junk_initiation(maker, p.net.now());
    const size_t sent = capture.sent;
    p.b.device->handle_datagram(msg, src, p.net.now(), capture);
    if (capture.sent == sent) return false;
    REQUIRE(capture.last.size() == dataplane::kCookieReplySize);
    dataplane::CookieReply reply;
    std::memcpy(&reply, capture.last.data(), sizeof reply);
    REQUIRE(maker.consume_reply(reply, p.net.now()));
    maker.add_macs(msg, p.net.now());
    p.b.device->handle_datagram(msg, src, p.net.now(), capture);
    return true;
  };

  constexpr int kSources = 10000;
  size_t with_cookie = 0;
  for (int i = 0; i < kSources; ++i) with_cookie += earn_cookie_and_send(i);
  const auto& counters = p.b.device->counters();
  CHECK(with_cookie == kSources - 1);  // all but the first, which came before the load
  CHECK(counters.cookie_replies_sent == kSources - 1);
  CHECK(counters.drop_rate_limited == 0);  // one each is within every source's burst
  CHECK(counters.drop_handshake_invalid == kSources);
  CHECK(capture.written == 0);
  const size_t entries = p.b.device->rate_limiter().entries();
  CHECK(entries == kSources - 1);
  CHECK(entries <= dataplane::RateLimiter::kMaxEntries);

  // Once the flood stops, the next use of the limiter collects the idle entries.
  p.net.advance(2s);
  CHECK_FALSE(earn_cookie_and_send(kSources));  // a new load window: not under load yet
  CHECK(earn_cookie_and_send(kSources + 1));
  CHECK(p.b.device->rate_limiter().entries() == 1);
  expect_tunnel_works(p);
}
