#pragma once
// PCP (RFC 6887), the client side of MAP and ANNOUNCE, as bytes in and bytes out: a node asks
// its gateway to forward an external UDP port to the WireGuard port. Also the header of a
// NAT-PMP (RFC 6886) response, because a NAT-PMP-only gateway answers a PCP request with a
// version-0 "unsupported version" reply, which tells the client to speak NAT-PMP instead.
//
// Request header (24 bytes)            Response header (24 bytes)
//   0  version = 2                       0  version = 2
//   1  R = 0 | opcode (7 bits)           1  R = 1 | opcode
//   2  reserved (16 bits)                2  reserved, 3 result code
//   4  requested lifetime (s)            4  lifetime (s): granted, or how long an error holds
//   8  client IP (128 bits)              8  epoch time (s), 12 reserved (96 bits)
// MAP body (36 bytes), the same shape both ways:
//   0  mapping nonce (96 bits)          12  protocol, 13 reserved (24 bits)
//  16  internal port                    18  suggested (request) / assigned (response) ext. port
//  20  suggested / assigned external IP (128 bits)
// IPv4 addresses travel as IPv4-mapped IPv6 (::ffff:a.b.c.d); all numbers are big-endian.
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "platform/endpoint.h"

namespace qvpn::nat {

inline constexpr uint16_t kPcpServerPort = 5351;  // shared with NAT-PMP
inline constexpr uint8_t kPcpVersion = 2;
inline constexpr size_t kPcpHeaderSize = 24;
inline constexpr size_t kPcpMapBodySize = 36;
inline constexpr size_t kPcpMapMessageSize = kPcpHeaderSize + kPcpMapBodySize;
inline constexpr size_t kPcpMaxMessageSize = 1100;
inline constexpr uint8_t kIpProtocolUdp = 17;

enum class PcpOpcode : uint8_t { kAnnounce = 0, kMap = 1, kPeer = 2 };

// Result codes (RFC 6887 §7.4). Other values can arrive and are kept as they are.
enum class PcpResult : uint8_t {
  kSuccess = 0,
  kUnsuppVersion = 1,
  kNotAuthorized = 2,
  kMalformedRequest = 3,
  kUnsuppOpcode = 4,
  kUnsuppOption = 5,
  kMalformedOption = 6,
  kNetworkFailure = 7,
  kNoResources = 8,
  kUnsuppProtocol = 9,
  kUserExQuota = 10,
  kCannotProvideExternal = 11,
  kAddressMismatch = 12,
  kExcessiveRemotePeers = 13,
};
// The RFC's name ("SUCCESS", "NOT_AUTHORIZED", ...), or "UNKNOWN".
std::string_view to_string(PcpResult r);

using PcpNonce = std::array<uint8_t, 12>;

// The MAP body. `external` is the suggested endpoint in a request (zero for no preference)
// and the assigned one in a response.
struct PcpMapBody {
  PcpNonce nonce{};
  uint8_t protocol = kIpProtocolUdp;
  uint16_t internal_port = 0;
  platform::Endpoint external;
  bool operator==(const PcpMapBody&) const = default;
};

struct PcpMapRequest {
  platform::IpAddress client;  // this host's source address toward the server
  uint32_t lifetime = 0;       // seconds; 0 deletes the mapping (with the same nonce)
  PcpMapBody map;
};
std::array<uint8_t, kPcpMapMessageSize> encode_pcp_map_request(const PcpMapRequest& request);

// ANNOUNCE (opcode 0, lifetime 0): asks nothing of the server, but any PCP server answers it,
// so it tells whether the gateway speaks PCP without creating a mapping.
std::array<uint8_t, kPcpHeaderSize> encode_pcp_announce_request(const platform::IpAddress& client);

struct PcpResponse {
  PcpOpcode opcode = PcpOpcode::kAnnounce;  // as sent, possibly not one of the named values
  PcpResult result = PcpResult::kSuccess;
  uint32_t lifetime = 0;
  uint32_t epoch = 0;
  std::optional<PcpMapBody> map;  // present in MAP responses that carry the body
  bool operator==(const PcpResponse&) const = default;
};

// A version-2 response: 24 to 1100 bytes, a multiple of 4, the R bit set. A MAP response of
// at least 60 bytes carries its body; options after the body are ignored. nullopt otherwise.
std::optional<PcpResponse> parse_pcp_response(std::span<const uint8_t> bytes);

// The bytes a server sends for `response`: the header, then the MAP body when there is one.
// For fake gateways in tests.
std::vector<uint8_t> encode_pcp_response(const PcpResponse& response);

// What a datagram from the server means to a client waiting for the answer to `sent`.
enum class PcpMapReply {
  kIgnore,      // malformed, another opcode, or another mapping's answer (nonce, port, protocol)
  kMapped,      // SUCCESS: `external` and `lifetime` are the server's grant
  kRefused,     // an error result for this request: `result` says which
  kNatPmpOnly,  // a NAT-PMP (version 0) server refused the PCP version
};
struct PcpMapOutcome {
  PcpMapReply reply = PcpMapReply::kIgnore;
  PcpResult result = PcpResult::kSuccess;
  std::chrono::seconds lifetime{0};
  uint32_t epoch = 0;
  platform::Endpoint external;
};
PcpMapOutcome read_pcp_map_reply(std::span<const uint8_t> bytes, const PcpMapRequest& sent);

// NAT-PMP (RFC 6886) response header: version 0, opcode 128 + the request's opcode, a 16-bit
// result code, then seconds since the server's epoch.
//   0  version = 0, 1  128 + opcode, 2  result code (16 bits), 4  epoch (32 bits)
inline constexpr size_t kNatPmpHeaderSize = 8;
inline constexpr uint16_t kNatPmpUnsupportedVersion = 1;
struct NatPmpHeader {
  uint8_t opcode = 0;  // the request's opcode (without the 128)
  uint16_t result = 0;
  uint32_t epoch = 0;
  bool operator==(const NatPmpHeader&) const = default;
};
// nullopt unless the datagram is at least 8 bytes, version 0, with the response bit set.
std::optional<NatPmpHeader> parse_natpmp_response_header(std::span<const uint8_t> bytes);

}  // namespace qvpn::nat
