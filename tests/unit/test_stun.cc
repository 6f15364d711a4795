// STUN Binding: the RFC 5769 sample response, request -> server reply -> client parse round
// trips over IPv4 and IPv6, and a table of malformed messages that the server refuses.
#include <doctest/doctest.h>

#include <algorithm>

#include "nat/stun.h"

using namespace qvpn;
using namespace qvpn::nat;

namespace {

platform::Endpoint ep(const char* text) { return *platform::Endpoint::parse(text); }

// RFC 5769 §2.2: a sample IPv4 response (with MESSAGE-INTEGRITY, which we ignore).
const std::vector<uint8_t> kRfc5769Response = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
    0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74,
    0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01,
    0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43, 0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99,
    0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b,
    0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96};

void set_length(std::vector<uint8_t>& m) {
  const size_t n = m.size() - kStunHeaderSize;
  m[2] = uint8_t(n >> 8);
  m[3] = uint8_t(n);
}

// A Binding request with the given attribute bytes and no FINGERPRINT.
std::vector<uint8_t> request_with(std::vector<uint8_t> attrs) {
  const uint8_t header[] = {0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  attrs.insert(attrs.begin(), std::begin(header), std::end(header));
  std::vector<uint8_t> m = std::move(attrs);
  set_length(m);
  return m;
}

}  // namespace

TEST_CASE("STUN: the RFC 5769 sample response gives 192.0.2.1:32853, and its FINGERPRINT checks") {
  const auto r = parse_stun_binding_response(kRfc5769Response);
  REQUIRE(r);
  CHECK(r->mapped == ep("192.0.2.1:32853"));
  CHECK(r->txid[0] == 0xb7);
  auto bad = kRfc5769Response;
  bad.back() ^= 1;  // the fingerprint
  CHECK(!parse_stun_binding_response(bad));
  bad = kRfc5769Response;
  bad[45] ^= 1;  // the address: the fingerprint no longer matches
  CHECK(!parse_stun_binding_response(bad));
}

TEST_CASE("STUN: request, server reply and client parse round-trip over IPv4 and IPv6") {
  for (const char* seen : {"44.1.0.2:41641", "[2001:db8::5]:1", "0.0.0.0:65535"}) {
    CAPTURE(seen);
    const StunTxId txid = new_stun_txid();
    const auto req = stun_binding_request(txid);
    CHECK(req.size() == kStunHeaderSize + 8);
    CHECK(is_stun(req));
    const auto reply = stun_server_reply(req, ep(seen));
    REQUIRE(reply.verdict == StunVerdict::kAnswered);
    CHECK(is_stun(reply.bytes));
    const auto r = parse_stun_binding_response(reply.bytes);
    REQUIRE(r);
    CHECK(r->txid == txid);
    CHECK(r->mapped == ep(seen));
    // A response is never answered.
    CHECK(stun_server_reply(reply.bytes, ep(seen)).verdict == StunVerdict::kNotBindingRequest);
    CHECK(stun_server_reply(reply.bytes, ep(seen)).bytes.empty());
  }
}

TEST_CASE("STUN: the server refuses malformed requests and names unknown required attributes") {
  const auto from = ep("44.1.0.2:1");
  CHECK(stun_server_reply(request_with({}), from).verdict == StunVerdict::kAnswered);
  // CHANGE-REQUEST (RFC 5780) is understood and ignored; SOFTWARE is optional.
  CHECK(stun_server_reply(request_with({0, 3, 0, 4, 0, 0, 0, 0}), from).verdict ==
        StunVerdict::kAnswered);
  CHECK(stun_server_reply(request_with({0x80, 0x22, 0, 1, 'x', 0, 0, 0}), from).verdict ==
        StunVerdict::kAnswered);

  const auto unknown = stun_server_reply(request_with({0x00, 0x55, 0, 0}), from);
  CHECK(unknown.verdict == StunVerdict::kUnknownAttribute);
  REQUIRE(is_stun(unknown.bytes));
  CHECK(unknown.bytes[0] == 0x01);
  CHECK(unknown.bytes[1] == 0x11);  // Binding error response
  const std::vector<uint8_t> names_0055 = {0x00, 0x0a, 0x00, 0x02, 0x00, 0x55};
  CHECK(std::search(unknown.bytes.begin(), unknown.bytes.end(), names_0055.begin(),
                    names_0055.end()) != unknown.bytes.end());

  struct Bad {
    const char* what;
    std::vector<uint8_t> bytes;
    StunVerdict verdict;
  };
  auto wrong_length = request_with({});
  wrong_length[3] = 4;
  auto no_cookie = request_with({});
  no_cookie[4] = 0;
  auto indication = request_with({});
  indication[1] = 0x11;
  auto bad_fp = stun_binding_request(new_stun_txid());
  bad_fp.back() ^= 0xff;
  auto fp_not_last = stun_binding_request(new_stun_txid());
  fp_not_last.insert(fp_not_last.end(), {0x80, 0x22, 0, 0});
  set_length(fp_not_last);
  const Bad cases[] = {
      {"truncated header", {0, 1, 0, 0, 0x21, 0x12}, StunVerdict::kNotStun},
      {"length field disagrees", wrong_length, StunVerdict::kNotStun},
      {"no magic cookie", no_cookie, StunVerdict::kNotStun},
      {"attribute runs past the end", request_with({0x80, 0x22, 0, 9, 1, 2, 3, 4}), StunVerdict::kMalformed},
      {"attribute header cut short", request_with({0x80, 0x22, 0, 0, 0, 1, 0, 8}), StunVerdict::kMalformed},
      {"bad FINGERPRINT", bad_fp, StunVerdict::kMalformed},
      {"FINGERPRINT not last", fp_not_last, StunVerdict::kMalformed},
      {"an indication", indication, StunVerdict::kNotBindingRequest},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    const auto r = stun_server_reply(c.bytes, from);
    CHECK(r.verdict == c.verdict);
    CHECK(r.bytes.empty());
  }
}

TEST_CASE("STUN: never mistaken for a WireGuard message; responses need a mapped address") {
  std::vector<uint8_t> wg(32, 0);
  wg[0] = 4;
  wg[4] = 0x21, wg[5] = 0x12, wg[6] = 0xa4, wg[7] = 0x42;
  CHECK(!is_stun(wg));  // length field 0 but 12 more bytes
  auto no_address = request_with({});
  no_address[0] = 0x01;
  no_address[1] = 0x01;
  CHECK(!parse_stun_binding_response(no_address));
  auto bad_family = request_with({0x00, 0x20, 0, 8, 0, 7, 0, 0, 1, 2, 3, 4});
  bad_family[0] = 0x01;
  bad_family[1] = 0x01;
  CHECK(!parse_stun_binding_response(bad_family));
}
