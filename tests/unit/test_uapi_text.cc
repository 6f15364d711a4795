// The UAPI text protocol: set bodies as wg(8) writes them, the errno wireguard-go would
// answer for each kind of bad line, and the get answer line by line in wireguard-go's order.
#include <doctest/doctest.h>

#include <cctype>
#include <sstream>
#include <string>
#include <vector>

#include "core/uapi_text.h"
#include "support/keys.h"

using namespace qvpn;
using namespace qvpn::core;
using namespace qvpn::test;

namespace {

std::string hex(uint8_t fill) { return dataplane::to_hex(key_bytes(fill)); }
dataplane::IpPrefix prefix(const char* text) { return *dataplane::IpPrefix::parse(text); }

const std::string kZeroHex(64, '0');

UapiSet parse_ok(std::string_view body) {
  auto result = parse_uapi_set(body);
  if (auto* e = std::get_if<UapiError>(&result)) FAIL("unexpected error: " << e->message);
  return std::get<UapiSet>(std::move(result));
}

UapiError parse_error(std::string_view body) {
  auto result = parse_uapi_set(body);
  REQUIRE(std::holds_alternative<UapiError>(result));
  return std::get<UapiError>(result);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// A device with peer a (every field set) and peer b (never handshaked: no preshared key,
// no endpoint, no allowed IPs).
UapiState two_peer_state(uint32_t fwmark) {
  UapiState state;
  state.private_key = secret(1);
  state.listen_port = 51820;
  state.fwmark = fwmark;
  UapiPeerState a;
  a.public_key = pub(2);
  a.preshared_key = secret(3);
  a.endpoint = platform::Endpoint::parse("[2001:db8::1]:51821");
  a.persistent_keepalive = 25;
  a.last_handshake_sec = 1700000000;
  a.last_handshake_nsec = 123456789;
  a.rx_bytes = 1000;
  a.tx_bytes = 2000;
  a.allowed_ips = {prefix("10.0.0.2/32"), prefix("fd00::/64")};
  state.peers.push_back(a);
  UapiPeerState b;
  b.public_key = pub(4);
  state.peers.push_back(b);
  return state;
}

}  // namespace

TEST_CASE("parse_uapi_set: a body like `wg setconf` sends") {
  const std::string body = "private_key=" + hex(1) +
                           "\n"
                           "listen_port=51820\n"
                           "fwmark=0\n"
                           "replace_peers=true\n"
                           "public_key=" +
                           hex(2) +
                           "\n"
                           "preshared_key=" +
                           hex(3) +
                           "\n"
                           "endpoint=192.0.2.7:51821\n"
                           "persistent_keepalive_interval=25\n"
                           "replace_allowed_ips=true\n"
                           "allowed_ip=10.0.0.2/32\n"
                           "allowed_ip=fd00::1:2/64\n"
                           "public_key=" +
                           hex(4) +
                           "\n"
                           "protocol_version=1\n"
                           "endpoint=[2001:db8::1]:51820\n"
                           "replace_allowed_ips=true\n"
                           "\n";
  const UapiSet set = parse_ok(body);
  REQUIRE(set.private_key.has_value());
  CHECK(secret_is(*set.private_key, 1));
  CHECK(set.listen_port == std::optional<uint16_t>(51820));
  CHECK(set.fwmark == std::optional<uint32_t>(0));
  CHECK(set.replace_peers);
  REQUIRE(set.peers.size() == 2);

  const UapiPeerSet& a = set.peers[0];
  CHECK(a.public_key == pub(2));
  CHECK(!a.remove);
  CHECK(!a.update_only);
  REQUIRE(a.preshared_key.has_value());
  CHECK(secret_is(*a.preshared_key, 3));
  REQUIRE(a.endpoint.has_value());
  CHECK(a.endpoint->to_string() == "192.0.2.7:51821");
  CHECK(a.persistent_keepalive == std::optional<uint16_t>(25));
  CHECK(a.replace_allowed_ips);
  REQUIRE(a.allowed_ips.size() == 2);
  CHECK(a.allowed_ips[0] == prefix("10.0.0.2/32"));
  CHECK(a.allowed_ips[1] == prefix("fd00::/64"));  // host bits cleared

  const UapiPeerSet& b = set.peers[1];
  CHECK(b.public_key == pub(4));
  REQUIRE(b.endpoint.has_value());
  CHECK(b.endpoint->to_string() == "[2001:db8::1]:51820");
  CHECK(!b.preshared_key.has_value());
  CHECK(!b.persistent_keepalive.has_value());
  CHECK(b.replace_allowed_ips);
  CHECK(b.allowed_ips.empty());
}

TEST_CASE("parse_uapi_set: remove, update_only and the all-zero private key") {
  const UapiSet set =
      parse_ok("private_key=" + kZeroHex + "\n" + "public_key=" + hex(2) + "\nremove=true\n" +
               "public_key=" + hex(3) + "\nupdate_only=true\n" + "allowed_ip=10.3.0.0/16\n" +
               "public_key=" + hex(4) + "\npreshared_key=" + kZeroHex + "\n");
  REQUIRE(set.private_key.has_value());
  CHECK(set.private_key->is_zero());  // removes the device's key
  CHECK(!set.listen_port.has_value());
  CHECK(!set.fwmark.has_value());
  CHECK(!set.replace_peers);
  REQUIRE(set.peers.size() == 3);
  CHECK(set.peers[0].remove);
  CHECK(!set.peers[0].update_only);
  CHECK(set.peers[1].update_only);
  CHECK(!set.peers[1].remove);
  CHECK(set.peers[1].allowed_ips == std::vector{prefix("10.3.0.0/16")});
  REQUIRE(set.peers[2].preshared_key.has_value());
  CHECK(set.peers[2].preshared_key->is_zero());  // removes the peer's preshared key
}

TEST_CASE("parse_uapi_set: replace_allowed_ips drops allowed IPs listed above it") {
  const UapiSet set = parse_ok("public_key=" + hex(2) +
                               "\nallowed_ip=10.0.0.0/8\nreplace_allowed_ips=true\n"
                               "allowed_ip=10.1.0.0/16\n");
  REQUIRE(set.peers.size() == 1);
  CHECK(set.peers[0].replace_allowed_ips);
  CHECK(set.peers[0].allowed_ips == std::vector{prefix("10.1.0.0/16")});
}

TEST_CASE("parse_uapi_set: framing") {
  SUBCASE("an empty body changes nothing") {
    const UapiSet set = parse_ok("\n");
    CHECK((!set.private_key && !set.listen_port && !set.fwmark && !set.replace_peers));
    CHECK(set.peers.empty());
    CHECK(parse_ok("").peers.empty());
  }
  SUBCASE("the blank line ends the body; what follows is not read") {
    const UapiSet set = parse_ok("listen_port=1\n\nlisten_port=2\nbogus\n");
    CHECK(set.listen_port == std::optional<uint16_t>(1));
  }
  SUBCASE("CRLF line ends and a missing final newline") {
    const UapiSet set =
        parse_ok("listen_port=7\r\npublic_key=" + hex(2) + "\r\nallowed_ip=10.0.0.0/8");
    CHECK(set.listen_port == std::optional<uint16_t>(7));
    REQUIRE(set.peers.size() == 1);
    CHECK(set.peers[0].allowed_ips.size() == 1);
  }
  SUBCASE("upper-case hex is accepted, as Go's hex decoder does") {
    std::string upper = hex(0xab);
    for (char& c : upper) c = static_cast<char>(std::toupper(c));
    CHECK(parse_ok("public_key=" + upper + "\n").peers.at(0).public_key == pub(0xab));
  }
}

TEST_CASE("parse_uapi_set: errors carry wireguard-go's errno") {
  const std::string peer = "public_key=" + hex(2) + "\n";
  SUBCASE("bad hex") {
    CHECK(parse_error("public_key=" + hex(2).substr(2) + "zz\n").errno_value == EINVAL);
    CHECK(parse_error("public_key=" + hex(2) + "00\n").errno_value == EINVAL);
    CHECK(parse_error("private_key=1234\n").errno_value == EINVAL);
    CHECK(parse_error(peer + "preshared_key=xyz\n").errno_value == EINVAL);
  }
  SUBCASE("unknown keys, in either part") {
    const UapiError e = parse_error("listen_port=1\nfrobnicate=1\n");
    CHECK(e.errno_value == EINVAL);
    CHECK(e.message.find("frobnicate") != std::string::npos);
    CHECK(parse_error(peer + "frobnicate=1\n").errno_value == EINVAL);
    CHECK(parse_error("=1\n").errno_value == EINVAL);
  }
  SUBCASE("peer keys before any public_key, device keys after one") {
    CHECK(parse_error("allowed_ip=10.0.0.0/8\n").errno_value == EINVAL);
    CHECK(parse_error("protocol_version=1\n").errno_value == EINVAL);
    CHECK(parse_error(peer + "listen_port=1\n").errno_value == EINVAL);
    CHECK(parse_error(peer + "replace_peers=true\n").errno_value == EINVAL);
  }
  SUBCASE("a line without '=' is a protocol error") {
    CHECK(parse_error("listen_port\n").errno_value == EPROTO);
    CHECK(parse_error(peer + "remove\n").errno_value == EPROTO);
  }
  SUBCASE("bad values") {
    const std::string bodies[] = {
        "listen_port=65536\n",
        "listen_port=-1\n",
        "listen_port=+1\n",
        "listen_port=\n",
        "fwmark=4294967296\n",
        "replace_peers=false\n",
        peer + "remove=1\n",
        peer + "update_only=yes\n",
        peer + "replace_allowed_ips=TRUE\n",
        peer + "protocol_version=2\n",
        peer + "persistent_keepalive_interval=65536\n",
        peer + "endpoint=example.com:51820\n",
        peer + "endpoint=::1:51820\n",
        peer + "allowed_ip=10.0.0.1\n",
        peer + "allowed_ip=10.0.0.0/33\n",
        peer + "allowed_ip=10.0.0.0/08\n",
    };
    for (const std::string& body : bodies) {
      CAPTURE(body);
      CHECK(parse_error(body).errno_value == EINVAL);
    }
  }
  SUBCASE("messages never echo key material") {
    const std::string secret_hex = hex(9).substr(0, 63) + "g";
    const UapiError e = parse_error("private_key=" + secret_hex + "\n");
    CHECK(e.message.find(secret_hex.substr(0, 20)) == std::string::npos);
  }
}

TEST_CASE("format_uapi_get: wireguard-go's lines, in its order") {
  const UapiState state = two_peer_state(/*fwmark=*/0);  // a zero fwmark is not printed

  const std::string text = format_uapi_get(state);
  const std::vector<std::string> expected = {
      "private_key=" + hex(1),
      "listen_port=51820",
      "public_key=" + hex(2),
      "preshared_key=" + hex(3),
      "protocol_version=1",
      "endpoint=[2001:db8::1]:51821",
      "last_handshake_time_sec=1700000000",
      "last_handshake_time_nsec=123456789",
      "tx_bytes=2000",
      "rx_bytes=1000",
      "persistent_keepalive_interval=25",
      "allowed_ip=10.0.0.2/32",
      "allowed_ip=fd00::/64",
      "public_key=" + hex(4),
      "preshared_key=" + kZeroHex,
      "protocol_version=1",
      "last_handshake_time_sec=0",
      "last_handshake_time_nsec=0",
      "tx_bytes=0",
      "rx_bytes=0",
      "persistent_keepalive_interval=0",
      "errno=0",
      "",
  };
  const std::vector<std::string> got = lines_of(text);
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i] == expected[i]);
  }
  CHECK(text.ends_with("\nerrno=0\n\n"));
}

TEST_CASE("format_uapi_get: an empty device, fwmark, a zero private key") {
  UapiState state;
  CHECK(format_uapi_get(state) == "errno=0\n\n");
  state.private_key = dataplane::SecretKey();  // zero: as if unset
  state.fwmark = 51820;
  CHECK(format_uapi_get(state) == "fwmark=51820\nerrno=0\n\n");
}

TEST_CASE("format_uapi_get output parses back as a set body") {
  // Every get line but the counters is a valid set line; a UAPI client that replays a
  // dump after dropping those must get the same device back.
  UapiState state;
  state.private_key = secret(1);
  state.listen_port = 4000;
  UapiPeerState p;
  p.public_key = pub(2);
  p.endpoint = platform::Endpoint::parse("192.0.2.1:9");
  p.allowed_ips = {prefix("10.0.0.0/8")};
  state.peers.push_back(p);
  std::string body;
  for (const std::string& line : lines_of(format_uapi_get(state))) {
    if (line.starts_with("last_handshake") || line.ends_with("_bytes=0") ||
        line.starts_with("errno") || line.empty()) {
      continue;
    }
    body += line + "\n";
  }
  const UapiSet set = parse_ok(body);
  CHECK(secret_is(*set.private_key, 1));
  CHECK(set.listen_port == std::optional<uint16_t>(4000));
  REQUIRE(set.peers.size() == 1);
  CHECK(set.peers[0].public_key == pub(2));
  CHECK(set.peers[0].endpoint == p.endpoint);
  CHECK(set.peers[0].allowed_ips == p.allowed_ips);
  CHECK(set.peers[0].preshared_key->is_zero());
}

TEST_CASE("format_uapi_errno: negated on the wire, as wireguard-go and wg(8) expect") {
  CHECK(format_uapi_errno(0) == "errno=0\n\n");
  CHECK(format_uapi_errno(EINVAL) == "errno=-22\n\n");
  CHECK(format_uapi_errno(kUapiErrorProtocol) == "errno=-71\n\n");
  CHECK(format_uapi_errno(-EADDRINUSE) == "errno=-98\n\n");
  CHECK(kUapiErrorUnknown == 55);
}

TEST_CASE("parse_uapi_get reads back what format_uapi_get writes") {
  const UapiState state = two_peer_state(/*fwmark=*/42);
  const UapiPeerState& a = state.peers[0];

  const UapiState back = parse_uapi_get(format_uapi_get(state));
  REQUIRE(back.private_key);
  CHECK(back.private_key->equals(secret(1)));
  CHECK(back.listen_port == 51820);
  CHECK(back.fwmark == 42);
  REQUIRE(back.peers.size() == 2);
  const UapiPeerState& p = back.peers[0];
  CHECK(p.public_key == pub(2));
  REQUIRE(p.preshared_key);
  CHECK(p.preshared_key->equals(secret(3)));
  CHECK(p.endpoint == a.endpoint);
  CHECK(p.persistent_keepalive == 25);
  CHECK(p.last_handshake_sec == 1700000000);
  CHECK(p.last_handshake_nsec == 123456789);
  CHECK(p.rx_bytes == 1000);
  CHECK(p.tx_bytes == 2000);
  CHECK(p.allowed_ips == a.allowed_ips);
  CHECK(back.peers[1].public_key == pub(4));
  CHECK_FALSE(back.peers[1].preshared_key);  // printed as zeros, read back as none
  CHECK_FALSE(back.peers[1].endpoint);

  CHECK_THROWS(parse_uapi_get("errno=-22\n\n"));
  CHECK_THROWS(parse_uapi_get("listen_port=x\nerrno=0\n\n"));
  CHECK_THROWS(parse_uapi_get("no equals sign\nerrno=0\n\n"));
  CHECK_THROWS(parse_uapi_get("listen_port=1\n\n"));  // no errno line
  CHECK(parse_uapi_counters("drop_replay=7\nerrno=0\n\n").at("drop_replay") == 7);
}
