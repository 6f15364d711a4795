#include "dataplane/cookie.h"

#include <cstdlib>
#include <cstring>

#include "dataplane/aead.h"
#include "dataplane/blake2s.h"
#include "dataplane/constants.h"

namespace qvpn::dataplane {

namespace {

// A cookie is trusted for slightly less than the checker keeps its secret, so one is not
// sent just as the checker rotates: 120 s - 5 s, as the Linux module's
// COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY.
constexpr auto kCookieSecretLatency = 5s;
constexpr auto kCookieValidTime = kCookieRefreshTime - kCookieSecretLatency;

static_assert(kMacSize * 2 == sizeof(MessageMacs));

// HASH(label || public key), the keys for mac1 and for cookie-reply encryption.
void derive_key(std::span<uint8_t, kKeySize> out, const char (&label)[9], const PublicKey& pub) {
  Blake2s h;
  h.update(std::span(reinterpret_cast<const uint8_t*>(label), 8));
  h.update(pub.bytes);
  h.final(out);
}

// MAC(key, x): keyed BLAKE2s with a 16-byte output.
void mac(std::span<uint8_t, kMacSize> out, std::span<const uint8_t> key,
         std::span<const uint8_t> in) {
  blake2s(out, in, key);
}

// The message minus its last n bytes. Callers have checked msg holds both MACs.
std::span<const uint8_t> head(std::span<const uint8_t> msg, size_t n) {
  return msg.first(msg.size() - n);
}

void store32_le(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace

void CookieChecker::init(const PublicKey& local_public) {
  derive_key(mac1_key_, kLabelMac1, local_public);
  derive_key(cookie_key_.span(), kLabelCookie, local_public);
  secret_.wipe();
  secret_birth_.reset();
}

void CookieChecker::cookie_for(std::span<uint8_t, kCookieSize> out, const platform::Endpoint& src,
                               platform::TimePoint now) {
  if (!secret_birth_ || now - *secret_birth_ >= kCookieRefreshTime) {
    random_bytes(secret_.span());
    secret_birth_ = now;
  }
  // Source address then port in network order, as the Linux module hashes them.
  uint8_t addr[16 + 2];
  const size_t ip_len = src.ip.size();
  std::memcpy(addr, src.ip.bytes.data(), ip_len);
  addr[ip_len] = static_cast<uint8_t>(src.port >> 8);
  addr[ip_len + 1] = static_cast<uint8_t>(src.port);
  mac(out, secret_.span(), std::span(addr, ip_len + 2));
}

CookieChecker::Result CookieChecker::check(std::span<const uint8_t> msg,
                                           const platform::Endpoint& src, bool check_mac2,
                                           platform::TimePoint now) {
  if (msg.size() < sizeof(MessageMacs)) return Result::kInvalidMac1;
  const auto macs = msg.last(sizeof(MessageMacs));

  uint8_t expected[kMacSize];
  mac(expected, mac1_key_, head(msg, sizeof(MessageMacs)));
  if (!constant_time_equal(expected, macs.first(kMacSize))) return Result::kInvalidMac1;
  if (!check_mac2) return Result::kValidMac1;

  uint8_t cookie[kCookieSize];
  cookie_for(cookie, src, now);
  mac(expected, cookie, head(msg, kMacSize));
  secure_wipe(cookie, sizeof cookie);
  return constant_time_equal(expected, macs.last(kMacSize)) ? Result::kValidMac2
                                                            : Result::kValidMac1;
}

void CookieChecker::make_reply(std::span<uint8_t, kCookieReplySize> out,
                               std::span<const uint8_t> msg, uint32_t receiver_index,
                               const platform::Endpoint& src, platform::TimePoint now) {
  if (msg.size() < sizeof(MessageMacs)) std::abort();  // the caller checked mac1 already
  CookieReply reply{};
  store32_le(reinterpret_cast<uint8_t*>(&reply.type),
             static_cast<uint32_t>(MessageType::kCookieReply));
  store32_le(reinterpret_cast<uint8_t*>(&reply.receiver_index), receiver_index);
  random_bytes(reply.nonce);

  uint8_t cookie[kCookieSize];
  cookie_for(cookie, src, now);
  // The sender's mac1 as associated data binds the reply to the message it answers.
  const auto mac1 = msg.last(sizeof(MessageMacs)).first(kMacSize);
  xaead_seal(reply.encrypted_cookie, cookie_key_.span(), std::span(reply.nonce), cookie, mac1);
  secure_wipe(cookie, sizeof cookie);
  std::memcpy(out.data(), &reply, sizeof reply);
}

void CookieMaker::init(const PublicKey& peer_public) {
  derive_key(mac1_key_, kLabelMac1, peer_public);
  derive_key(cookie_key_.span(), kLabelCookie, peer_public);
  secure_wipe(cookie_.data(), cookie_.size());
  cookie_birth_.reset();
  have_last_mac1_ = false;
}

void CookieMaker::add_macs(std::span<uint8_t> msg, platform::TimePoint now) {
  if (msg.size() < sizeof(MessageMacs)) std::abort();
  auto macs = msg.last(sizeof(MessageMacs));
  auto mac1 = macs.first<kMacSize>();
  auto mac2 = macs.last<kMacSize>();

  mac(mac1, mac1_key_, head(msg, sizeof(MessageMacs)));
  std::memcpy(last_mac1_.data(), mac1.data(), kMacSize);
  have_last_mac1_ = true;

  if (cookie_birth_ && now - *cookie_birth_ < kCookieValidTime) {
    mac(mac2, cookie_, head(msg, kMacSize));
  } else {
    std::memset(mac2.data(), 0, kMacSize);
  }
}

bool CookieMaker::consume_reply(const CookieReply& reply, platform::TimePoint now) {
  // A reply is only meaningful for a message we sent; its mac1 is the reply's AD.
  if (!have_last_mac1_) return false;
  uint8_t cookie[kCookieSize];
  if (!xaead_open(cookie, cookie_key_.span(), std::span(reply.nonce),
                  std::span(reply.encrypted_cookie), last_mac1_)) {
    secure_wipe(cookie, sizeof cookie);
    return false;
  }
  std::memcpy(cookie_.data(), cookie, kCookieSize);
  secure_wipe(cookie, sizeof cookie);
  cookie_birth_ = now;
  // As in the Linux module: one reply per message sent, so a replayed reply cannot
  // refresh the cookie's age.
  have_last_mac1_ = false;
  return true;
}

}  // namespace qvpn::dataplane
