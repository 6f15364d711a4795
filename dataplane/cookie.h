#pragma once
// MAC1/MAC2 and cookie replies (whitepaper 5.4.4 and 5.4.7).
//   mac1 = MAC(HASH(LABEL_MAC1 || S_pub_receiver), msg[0 .. mac1))
//   mac2 = MAC(cookie, msg[0 .. mac2))           (zeros when no fresh cookie)
//   cookie = MAC(R_secret, source ip || port), R_secret random, changed every 2 minutes
//   reply: XAEAD(HASH(LABEL_COOKIE || S_pub_sender), nonce, cookie, ad = mac1 of the msg)
#include <array>
#include <optional>
#include <span>

#include "dataplane/keys.h"
#include "dataplane/messages.h"
#include "platform/clock.h"
#include "platform/endpoint.h"

namespace qvpn::dataplane {

// The receiving side, one per interface: checks MACs on incoming handshake messages and
// makes cookie replies for them.
class CookieChecker {
 public:
  void init(const PublicKey& local_public);
  enum class Result { kInvalidMac1, kValidMac1, kValidMac2 };
  // msg is a whole initiation or response. check_mac2 only when under load.
  Result check(std::span<const uint8_t> msg, const platform::Endpoint& src, bool check_mac2,
               platform::TimePoint now);
  // Writes a cookie reply for msg (whose mac1 already checked) into out.
  void make_reply(std::span<uint8_t, kCookieReplySize> out, std::span<const uint8_t> msg,
                  uint32_t receiver_index, const platform::Endpoint& src, platform::TimePoint now);

 private:
  void cookie_for(std::span<uint8_t, kCookieSize> out, const platform::Endpoint& src,
                  platform::TimePoint now);
  KeyBytes mac1_key_{};
  SecretKey cookie_key_;
  SecretKey secret_;
  std::optional<platform::TimePoint> secret_birth_;
};

// The sending side, one per peer: adds MACs to outgoing handshake messages and takes the
// cookie from a reply.
class CookieMaker {
 public:
  void init(const PublicKey& peer_public);
  // Writes mac1 and mac2 into the last 32 bytes of msg (an initiation or response).
  void add_macs(std::span<uint8_t> msg, platform::TimePoint now);
  // Decrypts a cookie reply to the last message we sent; false if it does not open.
  bool consume_reply(const CookieReply& reply, platform::TimePoint now);

 private:
  KeyBytes mac1_key_{};
  SecretKey cookie_key_;
  std::array<uint8_t, kCookieSize> cookie_{};
  std::optional<platform::TimePoint> cookie_birth_;
  std::array<uint8_t, kMacSize> last_mac1_{};
  bool have_last_mac1_ = false;
};

}  // namespace qvpn::dataplane
