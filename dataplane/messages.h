#pragma once
// WireGuard wire formats (whitepaper 5.4). All sizes in one place, checked at compile time.
// Multi-byte integers on the wire are little-endian.
#include <array>
#include <cstddef>
#include <cstdint>

namespace qvpn::dataplane {

inline constexpr size_t kKeySize = 32;
inline constexpr size_t kAeadTagSize = 16;
inline constexpr size_t kTai64nSize = 12;
inline constexpr size_t kMacSize = 16;
inline constexpr size_t kCookieSize = 16;
inline constexpr size_t kCookieNonceSize = 24;
inline constexpr size_t kPaddingMultiple = 16;

enum class MessageType : uint8_t {
  kHandshakeInitiation = 1,
  kHandshakeResponse = 2,
  kCookieReply = 3,
  kTransportData = 4,
};

#pragma pack(push, 1)
struct MessageMacs {
  uint8_t mac1[kMacSize];
  uint8_t mac2[kMacSize];
};

struct HandshakeInitiation {
  uint32_t type;  // 1, then three zero bytes: read as one little-endian word
  uint32_t sender_index;
  uint8_t unencrypted_ephemeral[kKeySize];
  uint8_t encrypted_static[kKeySize + kAeadTagSize];
  uint8_t encrypted_timestamp[kTai64nSize + kAeadTagSize];
  MessageMacs macs;
};

struct HandshakeResponse {
  uint32_t type;
  uint32_t sender_index;
  uint32_t receiver_index;
  uint8_t unencrypted_ephemeral[kKeySize];
  uint8_t encrypted_nothing[kAeadTagSize];
  MessageMacs macs;
};

struct CookieReply {
  uint32_t type;
  uint32_t receiver_index;
  uint8_t nonce[kCookieNonceSize];
  uint8_t encrypted_cookie[kCookieSize + kAeadTagSize];
};

struct TransportHeader {
  uint32_t type;
  uint32_t receiver_index;
  uint64_t counter;
  // followed by the encrypted, padded packet and its 16-byte tag
};
#pragma pack(pop)

inline constexpr size_t kHandshakeInitiationSize = 148;
inline constexpr size_t kHandshakeResponseSize = 92;
inline constexpr size_t kCookieReplySize = 64;
inline constexpr size_t kTransportHeaderSize = 16;
inline constexpr size_t kTransportOverhead = kTransportHeaderSize + kAeadTagSize;  // 32
inline constexpr size_t kKeepaliveSize = kTransportOverhead;
// Largest datagram we ever build or accept: a 64 KiB inner packet plus overhead.
inline constexpr size_t kMaxMessageSize = 65535 + kTransportOverhead + kPaddingMultiple;

static_assert(sizeof(HandshakeInitiation) == kHandshakeInitiationSize);
static_assert(sizeof(HandshakeResponse) == kHandshakeResponseSize);
static_assert(sizeof(CookieReply) == kCookieReplySize);
static_assert(sizeof(TransportHeader) == kTransportHeaderSize);
// MAC1 covers everything before it; MAC2 everything before MAC2.
inline constexpr size_t kInitiationMac1Offset = kHandshakeInitiationSize - 2 * kMacSize;
inline constexpr size_t kResponseMac1Offset = kHandshakeResponseSize - 2 * kMacSize;

}  // namespace qvpn::dataplane
