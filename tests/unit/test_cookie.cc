// MAC1/MAC2 and cookie replies between a CookieMaker (sender) and a CookieChecker (receiver),
// on a fake clock.
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "dataplane/aead.h"
#include "dataplane/blake2s.h"
#include "dataplane/cookie.h"
#include "dataplane/x25519.h"
#include "support/bytes.h"

using namespace qvpn::dataplane;
using namespace qvpn::test;
using namespace std::chrono_literals;
using qvpn::platform::Endpoint;
using qvpn::platform::TimePoint;
using Result = CookieChecker::Result;

namespace {

Endpoint v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
  Endpoint e;
  e.ip.bytes[0] = a;
  e.ip.bytes[1] = b;
  e.ip.bytes[2] = c;
  e.ip.bytes[3] = d;
  e.port = port;
  return e;
}

Endpoint v6_loopback(uint16_t port) {
  Endpoint e;
  e.ip.v6 = true;
  e.ip.bytes[15] = 1;
  e.port = port;
  return e;
}

// A handshake initiation with random contents; the MACs are filled in by the maker.
std::vector<uint8_t> random_initiation() {
  std::vector<uint8_t> msg(kHandshakeInitiationSize);
  random_bytes(msg);
  msg[0] = 1;
  msg[1] = msg[2] = msg[3] = 0;
  return msg;
}

std::span<const uint8_t> mac2_of(const std::vector<uint8_t>& msg) {
  return std::span(msg).last(kMacSize);
}

bool is_zero(std::span<const uint8_t> s) {
  for (auto b : s) {
    if (b) return false;
  }
  return true;
}

CookieReply as_reply(const std::array<uint8_t, kCookieReplySize>& bytes) {
  CookieReply r;
  std::memcpy(&r, bytes.data(), sizeof r);
  return r;
}

const TimePoint kT0 = TimePoint(1000s);

struct Pair {
  PublicKey responder = public_key_of(generate_private_key());
  CookieMaker maker;
  CookieChecker checker;
  Pair() {
    maker.init(responder);
    checker.init(responder);
  }

  // The checker's cookie reply to `msg` from `src`, as sent on the wire.
  std::array<uint8_t, kCookieReplySize> reply_bytes(std::span<const uint8_t> msg,
                                                    const Endpoint& src, TimePoint now,
                                                    uint32_t receiver_index = 1) {
    std::array<uint8_t, kCookieReplySize> out{};
    checker.make_reply(out, msg, receiver_index, src, now);
    return out;
  }
  CookieReply reply_to(std::span<const uint8_t> msg, const Endpoint& src, TimePoint now,
                       uint32_t receiver_index = 1) {
    return as_reply(reply_bytes(msg, src, now, receiver_index));
  }

  // A random initiation with the maker's MACs added at `now`.
  std::vector<uint8_t> initiation(TimePoint now) {
    auto msg = random_initiation();
    maker.add_macs(msg, now);
    return msg;
  }

  // The maker sends an initiation from `src` at `now` and takes the cookie the checker
  // answers with.
  void get_cookie(const Endpoint& src, TimePoint now) {
    REQUIRE(maker.consume_reply(reply_to(initiation(now), src, now), now));
  }
};

}  // namespace

TEST_CASE("mac1 matches an independent computation") {
  // Python: k = blake2s(b"mac1----" + bytes(range(32))).digest()
  //         blake2s(bytes(range(148))[:116], key=k, digest_size=16).hexdigest()
  auto msg = counting_bytes(kHandshakeInitiationSize);
  CookieMaker maker;
  maker.init(PublicKey{counting_array<kKeySize>()});
  maker.add_macs(msg, kT0);
  CHECK(std::vector<uint8_t>(msg.begin() + kInitiationMac1Offset,
                             msg.begin() + kInitiationMac1Offset + kMacSize) ==
        from_hex("3a7d1b865f062f4af4677f1d88d7ea74"));
  // Everything before mac1 is untouched.
  for (size_t i = 0; i < kInitiationMac1Offset; ++i) REQUIRE(msg[i] == static_cast<uint8_t>(i));
  CHECK(is_zero(mac2_of(msg)));
}

TEST_CASE("mac1: valid as made, invalid after any flipped bit it covers") {
  Pair p;
  const auto src = v4(192, 0, 2, 1, 51820);
  auto msg = p.initiation(kT0);
  CHECK(p.checker.check(msg, src, false, kT0) == Result::kValidMac1);
  for (size_t bit = 0; bit < (kInitiationMac1Offset + kMacSize) * 8; ++bit) {
    REQUIRE(p.checker.check(with_bit_flipped(msg, bit), src, false, kT0) == Result::kInvalidMac1);
  }
  // mac2's bytes are not covered by mac1.
  auto bad = msg;
  bad.back() ^= 1;
  CHECK(p.checker.check(bad, src, false, kT0) == Result::kValidMac1);
  // Another interface's key, or a runt message: invalid.
  CookieChecker other;
  other.init(public_key_of(generate_private_key()));
  CHECK(other.check(msg, src, false, kT0) == Result::kInvalidMac1);
  CHECK(p.checker.check(std::span(msg).first(31), src, false, kT0) == Result::kInvalidMac1);
}

TEST_CASE("mac2 is zero until a cookie reply, then valid for that source") {
  Pair p;
  const auto src = v4(198, 51, 100, 7, 40000);
  auto msg = p.initiation(kT0);
  CHECK(is_zero(mac2_of(msg)));
  CHECK(p.checker.check(msg, src, true, kT0) == Result::kValidMac1);

  const auto reply = p.reply_bytes(msg, src, kT0, 0x11223344);
  // Wire format: type 3 and the receiver index, little-endian.
  CHECK(reply[0] == 3);
  CHECK(reply[1] == 0);
  CHECK(reply[2] == 0);
  CHECK(reply[3] == 0);
  CHECK(reply[4] == 0x44);
  CHECK(reply[7] == 0x11);
  REQUIRE(p.maker.consume_reply(as_reply(reply), kT0 + 1s));

  auto msg2 = p.initiation(kT0 + 2s);
  CHECK_FALSE(is_zero(mac2_of(msg2)));
  CHECK(p.checker.check(msg2, src, true, kT0 + 2s) == Result::kValidMac2);
  CHECK(p.checker.check(msg2, src, false, kT0 + 2s) == Result::kValidMac1);
  // The cookie is bound to the source address and port.
  CHECK(p.checker.check(msg2, v4(198, 51, 100, 7, 40001), true, kT0 + 2s) == Result::kValidMac1);
  CHECK(p.checker.check(msg2, v4(198, 51, 100, 8, 40000), true, kT0 + 2s) == Result::kValidMac1);
  // A flipped bit in mac2 (or before it) is caught.
  auto bad = msg2;
  bad.back() ^= 0x40;
  CHECK(p.checker.check(bad, src, true, kT0 + 2s) == Result::kValidMac1);
}

TEST_CASE("cookie reply decrypts with HASH(\"cookie--\" || pub) and mac1 as ad") {
  Pair p;
  const auto src = v6_loopback(51820);
  auto msg = p.initiation(kT0);
  const auto bytes = p.reply_bytes(msg, src, kT0);
  const auto reply = as_reply(bytes);

  std::array<uint8_t, 32> key{};
  Blake2s h;
  h.update(std::span(reinterpret_cast<const uint8_t*>("cookie--"), 8));
  h.update(p.responder.bytes);
  h.final(key);
  std::array<uint8_t, kCookieSize> cookie{};
  CHECK(xaead_open(cookie, key, std::span(reply.nonce), std::span(reply.encrypted_cookie),
                   std::span(msg).subspan(kInitiationMac1Offset, kMacSize)));
  CHECK_FALSE(is_zero(cookie));
  // Each reply has a fresh nonce.
  const auto again = p.reply_bytes(msg, src, kT0);
  CHECK(std::memcmp(again.data() + 8, bytes.data() + 8, kCookieNonceSize) != 0);
}

TEST_CASE("consume_reply refuses replies that do not answer our last message") {
  Pair p;
  const auto src = v4(203, 0, 113, 5, 1234);

  SUBCASE("nothing sent yet") {
    auto msg = random_initiation();
    CookieMaker sender;
    sender.init(p.responder);
    sender.add_macs(msg, kT0);
    CHECK_FALSE(p.maker.consume_reply(p.reply_to(msg, src, kT0), kT0));
  }
  SUBCASE("reply to an older message: wrong ad") {
    const auto reply = p.reply_to(p.initiation(kT0), src, kT0);
    p.initiation(kT0 + 1s);  // the maker has sent a newer message since
    CHECK_FALSE(p.maker.consume_reply(reply, kT0 + 1s));
    CHECK(is_zero(mac2_of(p.initiation(kT0 + 2s))));
  }
  SUBCASE("tampered reply") {
    auto msg = p.initiation(kT0);
    const auto reply = p.reply_bytes(msg, src, kT0);
    for (size_t i = 8; i < kCookieReplySize; ++i) {
      auto bad = reply;
      bad[i] ^= 0x01;
      REQUIRE_FALSE(p.maker.consume_reply(as_reply(bad), kT0));
    }
    CHECK(p.maker.consume_reply(as_reply(reply), kT0));
    // Only once per message sent.
    CHECK_FALSE(p.maker.consume_reply(as_reply(reply), kT0));
  }
  SUBCASE("reply from a different responder key") {
    auto msg = p.initiation(kT0);
    CookieChecker other;
    other.init(public_key_of(generate_private_key()));
    std::array<uint8_t, kCookieReplySize> reply{};
    other.make_reply(reply, msg, 1, src, kT0);
    CHECK_FALSE(p.maker.consume_reply(as_reply(reply), kT0));
  }
}

TEST_CASE("the sender stops using a cookie after 115 s") {
  Pair p;
  const auto src = v4(10, 0, 0, 1, 9);
  p.get_cookie(src, kT0);

  auto m = p.initiation(kT0 + 114s);
  CHECK_FALSE(is_zero(mac2_of(m)));
  CHECK(p.checker.check(m, src, true, kT0 + 114s) == Result::kValidMac2);
  p.maker.add_macs(m, kT0 + 115s);
  CHECK(is_zero(mac2_of(m)));
  CHECK(p.checker.check(m, src, true, kT0 + 115s) == Result::kValidMac1);
}

TEST_CASE("the checker's secret rotates after 120 s, invalidating old cookies") {
  Pair p;
  const auto src = v4(10, 0, 0, 2, 5555);
  p.get_cookie(src, kT0);  // the checker's secret is born at kT0

  // The maker's clock is its own: a message it made while the cookie was fresh.
  auto m = p.initiation(kT0 + 10s);
  REQUIRE_FALSE(is_zero(mac2_of(m)));
  CHECK(p.checker.check(m, src, true, kT0 + 119s) == Result::kValidMac2);
  CHECK(p.checker.check(m, src, true, kT0 + 121s) == Result::kValidMac1);
  // A new reply under the new secret works again.
  REQUIRE(p.maker.consume_reply(p.reply_to(m, src, kT0 + 121s), kT0 + 121s));
  p.maker.add_macs(m, kT0 + 122s);
  CHECK(p.checker.check(m, src, true, kT0 + 122s) == Result::kValidMac2);
}

TEST_CASE("handshake responses work the same way") {
  Pair p;
  const auto src = v6_loopback(7);
  std::vector<uint8_t> msg(kHandshakeResponseSize);
  random_bytes(msg);
  p.maker.add_macs(msg, kT0);
  CHECK(p.checker.check(msg, src, true, kT0) == Result::kValidMac1);
  REQUIRE(p.maker.consume_reply(p.reply_to(msg, src, kT0, 9), kT0));
  p.maker.add_macs(msg, kT0);
  CHECK(p.checker.check(msg, src, true, kT0) == Result::kValidMac2);
}
