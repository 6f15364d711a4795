// Fuzzes the port-mapping parsers of nat/pcp.h: parse_pcp_response, read_pcp_map_reply and
// parse_natpmp_response_header on arbitrary bytes, and read_pcp_map_reply on a server's
// answer to a request built from the input, optionally with bytes flipped.
//
// Invariants:
// - a parsed PCP response had a legal shape (24..1100 bytes, a multiple of 4, version 2, R
//   bit) and re-encodes to the bytes it came from, reserved fields aside;
// - a parsed NAT-PMP header is version 0 with the response bit, fields as in the bytes;
// - read_pcp_map_reply says kMapped only for a SUCCESS MAP response whose body matches the
//   request, kRefused only for an error, kNatPmpOnly only for a NAT-PMP UNSUPP_VERSION reply;
// - a server's answer read untouched gives exactly its grant or error; flipping any bit of
//   the nonce, protocol or internal port makes it kIgnore.
//
// Input: flags byte, then for the request: nonce (12), internal port (2), protocol (1),
// lifetime (4); for the answer: result (1), lifetime (4), external IP (16), port (2); then
// with flags & 1 a 60-byte XOR mask for the answer, and the rest as a raw datagram.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "nat/pcp.h"
#include "support/fuzz_reader.h"

namespace {

using namespace qvpn::nat;
using qvpn::platform::Endpoint;
using qvpn::platform::IpAddress;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_portmap: %s\n", what);
  std::abort();
}

uint32_t be32(std::span<const uint8_t> b, size_t at) {
  return uint32_t(b[at]) << 24 | uint32_t(b[at + 1]) << 16 | uint32_t(b[at + 2]) << 8 | b[at + 3];
}

// The bytes with the fields a sender must zero (and a reader ignores) zeroed.
std::vector<uint8_t> without_reserved(std::span<const uint8_t> bytes, bool map) {
  std::vector<uint8_t> out(bytes.begin(),
                           bytes.begin() + (map ? kPcpMapMessageSize : kPcpHeaderSize));
  out[2] = 0;
  std::fill(out.begin() + 12, out.begin() + 24, 0);
  if (map) std::fill(out.begin() + 37, out.begin() + 40, 0);
  return out;
}

void check_any(std::span<const uint8_t> bytes, const PcpMapRequest& sent) {
  const auto r = parse_pcp_response(bytes);
  if (r) {
    if (bytes.size() < kPcpHeaderSize || bytes.size() > kPcpMaxMessageSize || bytes.size() % 4) {
      fail("parsed a response of an illegal size");
    }
    if (bytes[0] != kPcpVersion || !(bytes[1] & 0x80)) fail("parsed a non-response");
    if (r->map.has_value() !=
        (r->opcode == PcpOpcode::kMap && bytes.size() >= kPcpMapMessageSize)) {
      fail("MAP body present when it should not be, or missing");
    }
    if (encode_pcp_response(*r) != without_reserved(bytes, r->map.has_value())) {
      fail("a parsed response does not re-encode to its bytes");
    }
  }

  const auto pmp = parse_natpmp_response_header(bytes);
  if (pmp) {
    if (bytes.size() < kNatPmpHeaderSize || bytes[0] != 0 || !(bytes[1] & 0x80)) {
      fail("parsed a NAT-PMP header of the wrong shape");
    }
    if (pmp->opcode != (bytes[1] & 0x7f) || pmp->result != (bytes[2] << 8 | bytes[3]) ||
        pmp->epoch != be32(bytes, 4)) {
      fail("NAT-PMP header fields differ from the bytes");
    }
    if (r) fail("one datagram parsed as both PCP and NAT-PMP");
  }

  const auto out = read_pcp_map_reply(bytes, sent);
  switch (out.reply) {
    case PcpMapReply::kIgnore:
      break;
    case PcpMapReply::kMapped:
      if (!r || r->opcode != PcpOpcode::kMap || r->result != PcpResult::kSuccess || !r->map ||
          r->map->nonce != sent.map.nonce || r->map->internal_port != sent.map.internal_port ||
          r->map->protocol != sent.map.protocol || out.external != r->map->external ||
          out.lifetime.count() != r->lifetime) {
        fail("kMapped for something that is not a matching success");
      }
      break;
    case PcpMapReply::kRefused:
      if (!r || r->opcode != PcpOpcode::kMap || r->result == PcpResult::kSuccess ||
          out.result != r->result) {
        fail("kRefused for something that is not an error answer");
      }
      if (r->map && r->map->nonce != sent.map.nonce) fail("kRefused for another nonce");
      break;
    case PcpMapReply::kNatPmpOnly:
      if (!pmp || pmp->result != kNatPmpUnsupportedVersion) fail("kNatPmpOnly without a refusal");
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  qvpn::test::FuzzReader in({data, size});
  const uint8_t flags = in.byte();

  PcpMapRequest req;
  req.client = *IpAddress::parse("192.168.1.20");
  for (auto& b : req.map.nonce) b = in.byte();
  req.map.internal_port = static_cast<uint16_t>(in.take(2));
  req.map.protocol = in.byte();
  req.lifetime = in.take(4);

  PcpResponse answer;
  answer.opcode = PcpOpcode::kMap;
  answer.result = static_cast<PcpResult>(in.byte());
  answer.lifetime = in.take(4);
  answer.epoch = 7;
  answer.map = req.map;
  answer.map->external.ip.v6 = true;
  for (auto& b : answer.map->external.ip.bytes) b = in.byte();
  answer.map->external.port = static_cast<uint16_t>(in.take(2));
  // What the wire makes of that address: ::ffff:a.b.c.d is IPv4.
  answer.map->external = parse_pcp_response(encode_pcp_response(answer))->map->external;

  auto reply = encode_pcp_response(answer);
  const auto out = read_pcp_map_reply(reply, req);
  const bool success = answer.result == PcpResult::kSuccess;
  if (out.reply != (success ? PcpMapReply::kMapped : PcpMapReply::kRefused) ||
      out.result != answer.result || out.lifetime.count() != answer.lifetime ||
      (success && out.external != answer.map->external)) {
    fail("a server's untouched answer was misread");
  }

  if (flags & 1) {
    const auto mask = in.bytes(kPcpMapMessageSize);
    bool only_identity = true, touches_identity = false;
    for (size_t i = 0; i < mask.size(); ++i) {
      if (!mask[i]) continue;
      reply[i] ^= mask[i];
      // The nonce (24..35), the protocol (36) and the internal port (40..41).
      const bool identity = (i >= 24 && i <= 36) || i == 40 || i == 41;
      touches_identity |= identity;
      only_identity &= identity;
    }
    check_any(reply, req);
    if (touches_identity && only_identity &&
        read_pcp_map_reply(reply, req).reply != PcpMapReply::kIgnore) {
      fail("an answer for another nonce, protocol or port was taken");
    }
  }

  check_any(in.bytes(size), req);
  return 0;
}
