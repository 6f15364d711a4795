// PCP (RFC 6887) MAP and ANNOUNCE requests byte by byte against the RFC layout; responses
// parsed and matched to the request that was sent; a NAT-PMP server's version-0 refusal.
#include <doctest/doctest.h>

#include <vector>

#include "nat/pcp.h"
#include "support/bytes.h"

using namespace qvpn::nat;
using namespace qvpn::test;
using namespace std::chrono_literals;
using qvpn::platform::Endpoint;
using qvpn::platform::IpAddress;

namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

PcpMapRequest sample_request() {
  PcpMapRequest req;
  req.client = ip("192.168.1.20");
  req.lifetime = 7200;
  req.map.nonce = counting_array<12>(0xa0);
  req.map.internal_port = 51820;
  req.map.external = Endpoint{IpAddress{}, 51820};  // this port, any address
  return req;
}

// What a server following the RFC sends back for `req`: the body copied, the grant filled in.
std::vector<uint8_t> server_reply(const PcpMapRequest& req, PcpResult result, uint32_t lifetime,
                                  const Endpoint& external) {
  PcpResponse r;
  r.opcode = PcpOpcode::kMap;
  r.result = result;
  r.lifetime = lifetime;
  r.epoch = 1234;
  r.map = req.map;
  r.map->external = external;
  return encode_pcp_response(r);
}

const Endpoint kExternal = *Endpoint::parse("44.1.0.2:51820");

}  // namespace

TEST_CASE("a MAP request is laid out as RFC 6887 §7.1 and §11.1 say") {
  const auto bytes = encode_pcp_map_request(sample_request());
  const auto want = from_hex(
      "02"                                // version 2
      "01"                                // R = 0, opcode MAP
      "0000"                              // reserved
      "00001c20"                          // requested lifetime 7200
      "00000000000000000000ffffc0a80114"  // client IP ::ffff:192.168.1.20
      "a0a1a2a3a4a5a6a7a8a9aaab"          // mapping nonce
      "11"                                // protocol UDP
      "000000"                            // reserved
      "ca6c"                              // internal port 51820
      "ca6c"                              // suggested external port 51820
      "00000000000000000000ffff00000000"  // suggested external IP ::ffff:0.0.0.0
  );
  CHECK(std::vector<uint8_t>(bytes.begin(), bytes.end()) == want);
}

TEST_CASE("a MAP request carries IPv6 addresses as they are") {
  PcpMapRequest req = sample_request();
  req.client = ip("2001:db8::5");
  req.lifetime = 0;
  req.map.external = Endpoint{ip("2001:db8::1"), 4000};
  const auto bytes = encode_pcp_map_request(req);
  CHECK(std::vector<uint8_t>(bytes.begin() + 4, bytes.begin() + 24) ==
        from_hex("0000000020010db8000000000000000000000005"));
  CHECK(std::vector<uint8_t>(bytes.begin() + 42, bytes.end()) ==
        from_hex("0fa020010db8000000000000000000000001"));
}

TEST_CASE("an ANNOUNCE request is a bare header with lifetime 0") {
  const auto bytes = encode_pcp_announce_request(ip("10.0.0.7"));
  CHECK(std::vector<uint8_t>(bytes.begin(), bytes.end()) ==
        from_hex("02000000"
                 "00000000"
                 "00000000000000000000ffff0a000007"));
}

TEST_CASE("result codes have the RFC's names") {
  CHECK(to_string(PcpResult::kSuccess) == "SUCCESS");
  CHECK(to_string(PcpResult::kNotAuthorized) == "NOT_AUTHORIZED");
  CHECK(to_string(PcpResult::kAddressMismatch) == "ADDRESS_MISMATCH");
  CHECK(to_string(PcpResult::kExcessiveRemotePeers) == "EXCESSIVE_REMOTE_PEERS");
  CHECK(to_string(static_cast<PcpResult>(200)) == "UNKNOWN");
}

TEST_CASE("a success response from a captured layout parses field by field") {
  const auto bytes = from_hex(
      "02"
      "81"
      "00"
      "00"                        // version, R | MAP, reserved, SUCCESS
      "00000e10"                  // lifetime 3600
      "0001e240"                  // epoch 123456
      "000000000000000000000000"  // reserved
      "a0a1a2a3a4a5a6a7a8a9aaab"
      "11"
      "000000"
      "ca6c"
      "ca6d"
      "00000000000000000000ffff2c010002");
  const auto r = parse_pcp_response(bytes);
  REQUIRE(r);
  CHECK(r->opcode == PcpOpcode::kMap);
  CHECK(r->result == PcpResult::kSuccess);
  CHECK(r->lifetime == 3600);
  CHECK(r->epoch == 123456);
  REQUIRE(r->map);
  CHECK(r->map->nonce == counting_array<12>(0xa0));
  CHECK(r->map->protocol == kIpProtocolUdp);
  CHECK(r->map->internal_port == 51820);
  CHECK(r->map->external == *Endpoint::parse("44.1.0.2:51821"));
  CHECK(!r->map->external.ip.v6);

  const auto out = read_pcp_map_reply(bytes, sample_request());
  CHECK(out.reply == PcpMapReply::kMapped);
  CHECK(out.lifetime == 3600s);
  CHECK(out.epoch == 123456);
  CHECK(out.external == *Endpoint::parse("44.1.0.2:51821"));
}

TEST_CASE("responses round-trip through encode and parse") {
  PcpResponse r;
  r.opcode = PcpOpcode::kMap;
  r.result = PcpResult::kNoResources;
  r.lifetime = 30;
  r.epoch = 0xfedcba98;
  r.map = PcpMapBody{counting_array<12>(7), 6, 22, *Endpoint::parse("[2001:db8::9]:2222")};
  CHECK(parse_pcp_response(encode_pcp_response(r)) == r);

  PcpResponse announce;
  announce.lifetime = 0;
  announce.epoch = 99;
  CHECK(parse_pcp_response(encode_pcp_response(announce)) == announce);
  CHECK(encode_pcp_response(announce).size() == kPcpHeaderSize);
}

TEST_CASE("requests round-trip through a server that answers as the RFC says") {
  auto req = sample_request();
  for (const Endpoint& ext : {kExternal, *Endpoint::parse("[2001:db8::2]:1")}) {
    const auto out = read_pcp_map_reply(server_reply(req, PcpResult::kSuccess, 7200, ext), req);
    CHECK(out.reply == PcpMapReply::kMapped);
    CHECK(out.external == ext);
    CHECK(out.lifetime == 7200s);
  }
  // The request's own bytes, read back as a response's body, give the request's fields.
  auto bytes = encode_pcp_map_request(req);
  bytes[1] |= 0x80;
  const auto r = parse_pcp_response(bytes);
  REQUIRE(r);
  CHECK(r->map == req.map);
}

TEST_CASE("error results refuse the request, with the server's lifetime for the error") {
  const auto req = sample_request();
  for (auto code : {PcpResult::kNotAuthorized, PcpResult::kNoResources, PcpResult::kAddressMismatch,
                    static_cast<PcpResult>(77)}) {
    const auto out = read_pcp_map_reply(server_reply(req, code, 30, Endpoint{}), req);
    CHECK(out.reply == PcpMapReply::kRefused);
    CHECK(out.result == code);
    CHECK(out.lifetime == 30s);
  }
  // A server that could not read the request answers with the header alone.
  PcpResponse bare;
  bare.opcode = PcpOpcode::kMap;
  bare.result = PcpResult::kMalformedRequest;
  const auto out = read_pcp_map_reply(encode_pcp_response(bare), req);
  CHECK(out.reply == PcpMapReply::kRefused);
  CHECK(out.result == PcpResult::kMalformedRequest);
  // ... but a success without the body says nothing usable.
  bare.result = PcpResult::kSuccess;
  CHECK(read_pcp_map_reply(encode_pcp_response(bare), req).reply == PcpMapReply::kIgnore);
}

TEST_CASE("answers to another mapping are ignored") {
  const auto req = sample_request();
  SUBCASE("wrong nonce") {
    auto other = req;
    other.map.nonce[11] ^= 1;
    CHECK(
        read_pcp_map_reply(server_reply(other, PcpResult::kSuccess, 7200, kExternal), req).reply ==
        PcpMapReply::kIgnore);
    // Errors too: a stale error must not cancel this request.
    CHECK(read_pcp_map_reply(server_reply(other, PcpResult::kNotAuthorized, 30, {}), req).reply ==
          PcpMapReply::kIgnore);
  }
  SUBCASE("wrong internal port") {
    auto other = req;
    other.map.internal_port = 51821;
    CHECK(
        read_pcp_map_reply(server_reply(other, PcpResult::kSuccess, 7200, kExternal), req).reply ==
        PcpMapReply::kIgnore);
  }
  SUBCASE("wrong protocol") {
    auto other = req;
    other.map.protocol = 6;
    CHECK(
        read_pcp_map_reply(server_reply(other, PcpResult::kSuccess, 7200, kExternal), req).reply ==
        PcpMapReply::kIgnore);
  }
  SUBCASE("wrong opcode") {
    auto bytes = server_reply(req, PcpResult::kSuccess, 7200, kExternal);
    bytes[1] = 0x80 | static_cast<uint8_t>(PcpOpcode::kPeer);
    const auto r = parse_pcp_response(bytes);
    REQUIRE(r);
    CHECK(r->opcode == PcpOpcode::kPeer);
    CHECK(!r->map);
    CHECK(read_pcp_map_reply(bytes, req).reply == PcpMapReply::kIgnore);
    bytes[1] = 0x80;  // ANNOUNCE
    CHECK(read_pcp_map_reply(bytes, req).reply == PcpMapReply::kIgnore);
  }
}

TEST_CASE("malformed responses are dropped") {
  const auto req = sample_request();
  const auto good = server_reply(req, PcpResult::kSuccess, 7200, kExternal);
  REQUIRE(parse_pcp_response(good));

  SUBCASE("truncated") {
    for (size_t n : {size_t{0}, size_t{1}, size_t{4}, size_t{20}}) {
      CHECK(!parse_pcp_response(std::span(good).first(n)));
      CHECK(read_pcp_map_reply(std::span(good).first(n), req).reply == PcpMapReply::kIgnore);
    }
    // A MAP response cut inside the body keeps only its header, and a success is useless.
    const auto r = parse_pcp_response(std::span(good).first(40));
    REQUIRE(r);
    CHECK(!r->map);
    CHECK(read_pcp_map_reply(std::span(good).first(40), req).reply == PcpMapReply::kIgnore);
  }
  SUBCASE("not a multiple of 4") {
    auto bytes = good;
    bytes.push_back(0);
    CHECK(!parse_pcp_response(bytes));
  }
  SUBCASE("oversized") {
    auto bytes = good;
    bytes.resize(kPcpMaxMessageSize, 0);
    CHECK(parse_pcp_response(bytes));  // options after the body are ignored
    CHECK(read_pcp_map_reply(bytes, req).reply == PcpMapReply::kMapped);
    bytes.resize(kPcpMaxMessageSize + 4, 0);
    CHECK(!parse_pcp_response(bytes));
  }
  SUBCASE("a request, not a response") {
    auto bytes = good;
    bytes[1] &= 0x7f;
    CHECK(!parse_pcp_response(bytes));
  }
  SUBCASE("another version") {
    auto bytes = good;
    bytes[0] = 1;
    CHECK(!parse_pcp_response(bytes));
    CHECK(read_pcp_map_reply(bytes, req).reply == PcpMapReply::kIgnore);
  }
}

TEST_CASE("a NAT-PMP server's version-0 refusal means: speak NAT-PMP") {
  // RFC 6886 §3.5: version 0, opcode 128 + the request's opcode, result 1, epoch.
  const auto refusal = from_hex(
      "00"
      "81"
      "0001"
      "00000539");
  const auto h = parse_natpmp_response_header(refusal);
  REQUIRE(h);
  CHECK(h->opcode == 1);
  CHECK(h->result == kNatPmpUnsupportedVersion);
  CHECK(h->epoch == 1337);
  CHECK(!parse_pcp_response(refusal));
  CHECK(read_pcp_map_reply(refusal, sample_request()).reply == PcpMapReply::kNatPmpOnly);

  // Padded to the PCP header size, as some servers echo the request's length.
  auto padded = refusal;
  padded.resize(kPcpMapMessageSize, 0);
  CHECK(read_pcp_map_reply(padded, sample_request()).reply == PcpMapReply::kNatPmpOnly);

  // Other version-0 answers are not a refusal of PCP.
  CHECK(read_pcp_map_reply(from_hex("00810003"
                                    "00000001"),
                           sample_request())
            .reply == PcpMapReply::kIgnore);
  // A NAT-PMP public-address response parses as a header.
  const auto pub =
      parse_natpmp_response_header(from_hex("00800000"
                                            "00000010"
                                            "2c010002"));
  REQUIRE(pub);
  CHECK(pub->opcode == 0);
  CHECK(pub->result == 0);
  CHECK(pub->epoch == 16);
  // Requests, short datagrams and other versions are not NAT-PMP responses.
  CHECK(
      !parse_natpmp_response_header(from_hex("0001"
                                             "0000"
                                             "00000000")));
  CHECK(
      !parse_natpmp_response_header(from_hex("00810001"
                                             "000005")));
  CHECK(
      !parse_natpmp_response_header(from_hex("02810001"
                                             "00000539")));
}
