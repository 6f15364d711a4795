#pragma once
// STUN Binding (RFC 8489), both sides: a node asks a server which address and port its
// packets arrive from (its mapping through the NATs), and `qvpn relay serve` answers. STUN
// shares the WireGuard UDP port; the magic cookie tells it apart.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "platform/endpoint.h"

namespace qvpn::nat {

inline constexpr uint32_t kStunMagicCookie = 0x2112A442;
inline constexpr size_t kStunHeaderSize = 20;
inline constexpr size_t kStunMaxSize = 548;  // RFC 8489 §6.1: what a UDP client must accept

using StunTxId = std::array<uint8_t, 12>;
StunTxId new_stun_txid();

// The shape of any STUN message: the top two bits zero, the magic cookie, a length that is a
// multiple of 4 and matches the datagram.
bool is_stun(std::span<const uint8_t> bytes);

// A Binding request with a FINGERPRINT.
std::vector<uint8_t> stun_binding_request(const StunTxId& txid);

struct StunBindingResponse {
  StunTxId txid;
  platform::Endpoint mapped;
};
// A Binding success response: XOR-MAPPED-ADDRESS, or MAPPED-ADDRESS from an RFC 3489 server;
// the FINGERPRINT is checked when present. nullopt for anything else.
std::optional<StunBindingResponse> parse_stun_binding_response(std::span<const uint8_t> bytes);

// The server side. Malformed requests get no answer; unknown comprehension-required
// attributes get a 420 error naming them (CHANGE-REQUEST, which RFC 5780 clients send, is
// known and ignored).
enum class StunVerdict { kAnswered, kNotStun, kMalformed, kNotBindingRequest, kUnknownAttribute };
struct StunReply {
  StunVerdict verdict;
  std::vector<uint8_t> bytes;  // what to send back; empty for no answer
};
StunReply stun_server_reply(std::span<const uint8_t> request, const platform::Endpoint& observed);

}  // namespace qvpn::nat
