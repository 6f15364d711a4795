// Fuzzes the cookie exchange: CookieMaker::consume_reply on any 64 bytes after add_macs, and
// CookieChecker::check on messages of any length. The maker and checker share the
// responder's public key (of tests/support key 2). When the reply is a real one from
// make_reply XORed with the input, the outcome is known exactly: a change to the nonce or
// the sealed cookie must be refused; an untouched reply must be taken once, and then the
// maker's next message must carry a MAC2 the checker accepts from that source (and only
// that source).
//
// Input: flags byte, delay byte (seconds between the reply and the next message), the
// message (148 or 92 bytes), then 64 bytes of reply or mask, then any bytes for check().
//   flags & 1: the message is an initiation (else a response)
//   flags & 2: the reply is make_reply's XOR the 64 bytes (else the 64 bytes themselves)
//   flags & 4: the source is IPv6
//   flags & 8: the delay is in units of 4 s, so the cookie can expire
#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "dataplane/constants.h"
#include "dataplane/cookie.h"
#include "dataplane/x25519.h"
#include "support/keys.h"

namespace {

using namespace qvpn::dataplane;
using namespace std::chrono_literals;
using qvpn::platform::Endpoint;
using qvpn::platform::TimePoint;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_cookie_reply: %s\n", what);
  std::abort();
}

const PublicKey& responder_public() {
  static const PublicKey pub = public_key_of(qvpn::test::secret(2));
  return pub;
}

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in) : in_(in) {}
  std::vector<uint8_t> take(size_t n) {  // zero padded when the input runs out
    std::vector<uint8_t> out(n, 0);
    const size_t k = std::min(n, in_.size());
    std::copy_n(in_.begin(), k, out.begin());
    in_ = in_.subspan(k);
    return out;
  }
  std::span<const uint8_t> rest() const { return in_; }

 private:
  std::span<const uint8_t> in_;
};

bool zero(const std::vector<uint8_t>& v, size_t from, size_t to) {
  return std::all_of(v.begin() + from, v.begin() + to, [](uint8_t x) { return x == 0; });
}

// The cookie is trusted for Cookie-Refresh-Time minus the checker's 5 s margin.
constexpr auto kCookieValid = kCookieRefreshTime - 5s;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  Reader in({data, size});
  const auto head = in.take(2);
  const uint8_t flags = head[0];
  const auto delay = std::chrono::seconds(head[1] * (flags & 8 ? 4 : 1));
  const size_t msg_size = flags & 1 ? kHandshakeInitiationSize : kHandshakeResponseSize;
  auto msg = in.take(msg_size);
  const auto reply_bytes = in.take(kCookieReplySize);

  Endpoint src, other;
  src.ip.v6 = flags & 4;
  src.ip.bytes[0] = src.ip.v6 ? 0x20 : 192;
  src.ip.bytes[src.ip.size() - 1] = 7;
  src.port = 51820;
  other = src;
  other.port = 51821;

  const TimePoint t0{std::chrono::hours(1)};
  CookieMaker maker;
  CookieChecker checker;
  maker.init(responder_public());
  checker.init(responder_public());

  maker.add_macs(msg, t0);
  if (checker.check(msg, src, true, t0) != CookieChecker::Result::kValidMac1) {
    fail("a message with the maker's MAC1 and no cookie did not check as valid MAC1");
  }

  const bool real = flags & 2;
  CookieReply reply;
  if (real) {
    uint8_t made[kCookieReplySize];
    checker.make_reply(made, msg, 0x01020304, src, t0);
    for (size_t i = 0; i < kCookieReplySize; ++i) made[i] ^= reply_bytes[i];
    std::memcpy(&reply, made, sizeof reply);
  } else {
    std::memcpy(&reply, reply_bytes.data(), sizeof reply);
  }
  const bool taken = maker.consume_reply(reply, t0);
  // The type and receiver index are the device's business; the rest is authenticated.
  const size_t sealed_from = offsetof(CookieReply, nonce);
  if (real && taken != zero(reply_bytes, sealed_from, kCookieReplySize)) {
    fail("consume_reply disagrees with the mask over the nonce and sealed cookie");
  }
  if (taken && maker.consume_reply(reply, t0)) fail("the same reply was taken twice");

  // The next message carries MAC2 if and only if a fresh cookie was taken.
  const TimePoint t1 = t0 + delay;
  auto next = msg;
  next[5] ^= 1;  // another message, as a retry would be
  maker.add_macs(next, t1);
  const bool has_mac2 = !zero(next, next.size() - kMacSize, next.size());
  if (!taken && has_mac2) fail("MAC2 without a cookie");
  if (taken && real) {
    const bool fresh = delay < kCookieValid;
    if (has_mac2 != fresh) fail("MAC2 presence disagrees with the cookie's age");
    // The checker's secret, born at t0, lasts Cookie-Refresh-Time, longer than the cookie.
    const auto want = fresh ? CookieChecker::Result::kValidMac2 : CookieChecker::Result::kValidMac1;
    if (checker.check(next, src, true, t1) != want) fail("MAC2 from a real cookie was refused");
    if (fresh && checker.check(next, other, true, t1) != CookieChecker::Result::kValidMac1) {
      fail("MAC2 was accepted from another source");
    }
  }

  // Arbitrary bytes of any length through the checker.
  const auto rest = in.rest();
  (void)checker.check(rest, src, flags & 16, t1);
  if (rest.size() >= sizeof(MessageMacs) && rest.size() <= kMaxMessageSize) {
    const auto r = checker.check(rest, other, true, t1);
    if (r != CookieChecker::Result::kInvalidMac1) {
      uint8_t out[kCookieReplySize];
      checker.make_reply(out, rest, 0, other, t1);
    }
  }
  return 0;
}
