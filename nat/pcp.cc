#include "nat/pcp.h"

#include <algorithm>
#include <cstring>

namespace qvpn::nat {

namespace {

constexpr uint8_t kResponseBit = 0x80;

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
  put16(p, static_cast<uint16_t>(v >> 16));
  put16(p + 2, static_cast<uint16_t>(v));
}

// 16 bytes: IPv6 as is, IPv4 as ::ffff:a.b.c.d.
void put_address(uint8_t* p, const platform::IpAddress& ip) {
  if (ip.v6) {
    std::memcpy(p, ip.bytes.data(), 16);
    return;
  }
  std::memset(p, 0, 10);
  p[10] = p[11] = 0xff;
  std::memcpy(p + 12, ip.bytes.data(), 4);
}

platform::IpAddress get_address(const uint8_t* p) {
  static constexpr uint8_t kV4Mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  platform::IpAddress ip;
  if (std::memcmp(p, kV4Mapped, sizeof kV4Mapped) == 0) {
    std::memcpy(ip.bytes.data(), p + 12, 4);
  } else {
    ip.v6 = true;
    std::memcpy(ip.bytes.data(), p, 16);
  }
  return ip;
}

void put_header(uint8_t* p, uint8_t opcode, uint32_t lifetime, const platform::IpAddress& client) {
  p[0] = kPcpVersion;
  p[1] = opcode;
  p[2] = p[3] = 0;
  put32(p + 4, lifetime);
  put_address(p + 8, client);
}

void put_map_body(uint8_t* p, const PcpMapBody& map) {
  std::copy(map.nonce.begin(), map.nonce.end(), p);
  p[12] = map.protocol;
  p[13] = p[14] = p[15] = 0;
  put16(p + 16, map.internal_port);
  put16(p + 18, map.external.port);
  put_address(p + 20, map.external.ip);
}

PcpMapBody get_map_body(const uint8_t* p) {
  PcpMapBody map;
  std::copy_n(p, map.nonce.size(), map.nonce.begin());
  map.protocol = p[12];
  map.internal_port = be16(p + 16);
  map.external.port = be16(p + 18);
  map.external.ip = get_address(p + 20);
  return map;
}

}  // namespace

std::string_view to_string(PcpResult r) {
  switch (r) {
    case PcpResult::kSuccess:
      return "SUCCESS";
    case PcpResult::kUnsuppVersion:
      return "UNSUPP_VERSION";
    case PcpResult::kNotAuthorized:
      return "NOT_AUTHORIZED";
    case PcpResult::kMalformedRequest:
      return "MALFORMED_REQUEST";
    case PcpResult::kUnsuppOpcode:
      return "UNSUPP_OPCODE";
    case PcpResult::kUnsuppOption:
      return "UNSUPP_OPTION";
    case PcpResult::kMalformedOption:
      return "MALFORMED_OPTION";
    case PcpResult::kNetworkFailure:
      return "NETWORK_FAILURE";
    case PcpResult::kNoResources:
      return "NO_RESOURCES";
    case PcpResult::kUnsuppProtocol:
      return "UNSUPP_PROTOCOL";
    case PcpResult::kUserExQuota:
      return "USER_EX_QUOTA";
    case PcpResult::kCannotProvideExternal:
      return "CANNOT_PROVIDE_EXTERNAL";
    case PcpResult::kAddressMismatch:
      return "ADDRESS_MISMATCH";
    case PcpResult::kExcessiveRemotePeers:
      return "EXCESSIVE_REMOTE_PEERS";
  }
  return "UNKNOWN";
}

std::array<uint8_t, kPcpMapMessageSize> encode_pcp_map_request(const PcpMapRequest& request) {
  std::array<uint8_t, kPcpMapMessageSize> out{};
  put_header(out.data(), static_cast<uint8_t>(PcpOpcode::kMap), request.lifetime, request.client);
  put_map_body(out.data() + kPcpHeaderSize, request.map);
  return out;
}

std::array<uint8_t, kPcpHeaderSize> encode_pcp_announce_request(const platform::IpAddress& client) {
  std::array<uint8_t, kPcpHeaderSize> out{};
  put_header(out.data(), static_cast<uint8_t>(PcpOpcode::kAnnounce), 0, client);
  return out;
}

std::optional<PcpResponse> parse_pcp_response(std::span<const uint8_t> bytes) {
  // RFC 6887 §8.3: responses of the wrong size or shape are silently dropped.
  if (bytes.size() < kPcpHeaderSize || bytes.size() > kPcpMaxMessageSize || bytes.size() % 4) {
    return std::nullopt;
  }
  if (bytes[0] != kPcpVersion || !(bytes[1] & kResponseBit)) return std::nullopt;
  PcpResponse r;
  r.opcode = static_cast<PcpOpcode>(bytes[1] & ~kResponseBit);
  r.result = static_cast<PcpResult>(bytes[3]);
  r.lifetime = be32(&bytes[4]);
  r.epoch = be32(&bytes[8]);
  if (r.opcode == PcpOpcode::kMap && bytes.size() >= kPcpMapMessageSize) {
    r.map = get_map_body(&bytes[kPcpHeaderSize]);
  }
  return r;
}

std::vector<uint8_t> encode_pcp_response(const PcpResponse& response) {
  std::vector<uint8_t> out(response.map ? kPcpMapMessageSize : kPcpHeaderSize, 0);
  out[0] = kPcpVersion;
  out[1] = static_cast<uint8_t>(static_cast<uint8_t>(response.opcode) | kResponseBit);
  out[3] = static_cast<uint8_t>(response.result);
  put32(&out[4], response.lifetime);
  put32(&out[8], response.epoch);
  if (response.map) put_map_body(&out[kPcpHeaderSize], *response.map);
  return out;
}

PcpMapOutcome read_pcp_map_reply(std::span<const uint8_t> bytes, const PcpMapRequest& sent) {
  PcpMapOutcome out;
  if (const auto pmp = parse_natpmp_response_header(bytes)) {
    if (pmp->result == kNatPmpUnsupportedVersion) out.reply = PcpMapReply::kNatPmpOnly;
    return out;
  }
  const auto r = parse_pcp_response(bytes);
  if (!r || r->opcode != PcpOpcode::kMap) return out;
  out.result = r->result;
  out.lifetime = std::chrono::seconds(r->lifetime);
  out.epoch = r->epoch;
  if (!r->map) {
    // A server that cannot read the request at all answers with the header only; such an
    // error is about this request, since the socket talks to the server alone. A success
    // must carry the body.
    if (r->result != PcpResult::kSuccess) out.reply = PcpMapReply::kRefused;
    return out;
  }
  const PcpMapBody& m = *r->map;
  if (m.nonce != sent.map.nonce || m.protocol != sent.map.protocol ||
      m.internal_port != sent.map.internal_port) {
    return out;
  }
  if (r->result != PcpResult::kSuccess) {
    out.reply = PcpMapReply::kRefused;
    return out;
  }
  out.reply = PcpMapReply::kMapped;
  out.external = m.external;
  return out;
}

std::optional<NatPmpHeader> parse_natpmp_response_header(std::span<const uint8_t> bytes) {
  if (bytes.size() < kNatPmpHeaderSize || bytes[0] != 0 || !(bytes[1] & kResponseBit)) {
    return std::nullopt;
  }
  return NatPmpHeader{static_cast<uint8_t>(bytes[1] & ~kResponseBit), be16(&bytes[2]),
                      be32(&bytes[4])};
}

}  // namespace qvpn::nat
