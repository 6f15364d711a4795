#pragma once
// The relay's wire protocol (docs/protocol/relay.md), without I/O. After an HTTP/1.1
// Upgrade to "qvpn-relay", both directions carry frames:
//   type (1) | length (4, big-endian) | payload (at most kMaxRelayPayload)
// The server opens with a challenge; the client answers with a crypto_box of it from its
// node key to the server's key, which proves it holds that key. Then packets travel as
// SendPacket(destination key, bytes) and arrive as RecvPacket(source key, bytes).
#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/keys.h"

namespace qvpn::nat {

inline constexpr uint8_t kRelayVersion = 1;
inline constexpr size_t kRelayFrameHeader = 5;
inline constexpr size_t kMaxRelayPacket = 65535;
inline constexpr size_t kMaxRelayPayload = 32 + kMaxRelayPacket;
inline constexpr size_t kRelayChallengeSize = 32;
inline constexpr std::string_view kRelayUpgradeToken = "qvpn-relay";

enum class RelayFrame : uint8_t {
  kServerHello = 0x01,  // version | server key (32) | challenge (32)
  kClientHello = 0x02,  // version | client key (32) | nonce (24) | box(challenge) (48)
  kServerReady = 0x03,  // empty
  kSendPacket = 0x04,   // destination key (32) | packet
  kRecvPacket = 0x05,   // source key (32) | packet
  kKeepAlive = 0x06,    // empty
  kPeerGone = 0x07,     // key (32) | reason (1)
  kPing = 0x08,         // 8 bytes, echoed in a Pong
  kPong = 0x09,
  kClose = 0x0A,  // reason (UTF-8, at most 256 bytes)
};

inline constexpr uint8_t kPeerGoneNotHere = 1;
inline constexpr size_t kMaxCloseReason = 256;
inline constexpr size_t kRelayPingSize = 8;

// Appends one frame; the payload is the concatenation of the parts.
void append_relay_frame(std::vector<uint8_t>& out, RelayFrame type,
                        std::initializer_list<std::span<const uint8_t>> parts);

// Splits a byte stream into frames. Holds at most one frame (kRelayFrameHeader +
// kMaxRelayPayload bytes); a length over the limit is an error that ends the connection.
// Frame types are not checked here: unknown ones are skipped by the caller. Use:
//   while (!bytes.empty()) {
//     bytes = bytes.subspan(reader.feed(bytes));
//     while (reader.next(frame) == Status::kFrame) handle(frame);   // then check kTooLarge
//   }
class RelayFrameReader {
 public:
  struct Frame {
    uint8_t type;
    std::span<const uint8_t> payload;  // valid until the next feed()
  };
  enum class Status { kFrame, kNeedMore, kTooLarge };
  // Takes bytes up to the end of the frame being read; returns how many it took.
  size_t feed(std::span<const uint8_t> bytes);
  // The next complete frame, if any.
  Status next(Frame& frame);

 private:
  std::vector<uint8_t> buf_;
  size_t consumed_ = 0;  // of buf_, by frames already returned
};

struct ServerHello {
  dataplane::PublicKey server_key;
  std::array<uint8_t, kRelayChallengeSize> challenge;
};
std::vector<uint8_t> server_hello_payload(const ServerHello& hello);
std::optional<ServerHello> parse_server_hello(std::span<const uint8_t> payload);

// The client's proof: the challenge boxed from the client's key to the server's.
std::vector<uint8_t> client_hello_payload(const ServerHello& hello,
                                          const dataplane::SecretKey& client_secret,
                                          const dataplane::PublicKey& client_public);
// The client's key when its proof opens to the challenge; nullopt otherwise.
std::optional<dataplane::PublicKey> verify_client_hello(std::span<const uint8_t> payload,
                                                        const ServerHello& hello,
                                                        const dataplane::SecretKey& server_secret);

// SendPacket, RecvPacket and PeerGone start with a key.
struct KeyedPayload {
  dataplane::PublicKey key;
  std::span<const uint8_t> rest;
};
std::optional<KeyedPayload> parse_keyed(std::span<const uint8_t> payload, size_t min_rest,
                                        size_t max_rest);

// A Close frame's reason, fit for a log line: at most kMaxCloseReason bytes, control
// characters replaced by '?'.
std::string parse_close(std::span<const uint8_t> payload);

}  // namespace qvpn::nat
