// The relay's framing and handshake without sockets: frames split at every byte boundary,
// the length limit, the key proof, and the HTTP heads of the Upgrade.
#include <doctest/doctest.h>

#include "dataplane/x25519.h"
#include "nat/http_head.h"
#include "nat/relay_protocol.h"

using namespace qvpn;
using namespace qvpn::nat;

namespace {

// Feeds `stream` in pieces of `step` bytes; returns the frames (type, payload) seen.
std::vector<std::pair<uint8_t, std::vector<uint8_t>>> read_all(const std::vector<uint8_t>& stream,
                                                                size_t step, bool* too_large = nullptr) {
  RelayFrameReader r;
  std::vector<std::pair<uint8_t, std::vector<uint8_t>>> frames;
  for (size_t pos = 0; pos < stream.size();) {
    std::span<const uint8_t> piece(stream.data() + pos, std::min(step, stream.size() - pos));
    pos += piece.size();
    for (;;) {
      piece = piece.subspan(r.feed(piece));
      RelayFrameReader::Frame f;
      RelayFrameReader::Status s;
      while ((s = r.next(f)) == RelayFrameReader::Status::kFrame) {
        frames.emplace_back(f.type, std::vector<uint8_t>(f.payload.begin(), f.payload.end()));
      }
      if (s == RelayFrameReader::Status::kTooLarge) {
        if (too_large) *too_large = true;
        return frames;
      }
      if (piece.empty()) break;
    }
  }
  return frames;
}

}  // namespace

TEST_CASE("relay frames survive any split of the stream") {
  std::vector<uint8_t> stream;
  const std::vector<uint8_t> key(32, 7), packet(1000, 0x5a), empty;
  append_relay_frame(stream, RelayFrame::kSendPacket, {key, packet});
  append_relay_frame(stream, RelayFrame::kKeepAlive, {});
  append_relay_frame(stream, RelayFrame::kPing, {std::vector<uint8_t>(8, 1)});
  for (size_t step : {size_t(1), size_t(2), size_t(4), size_t(5), size_t(6), size_t(1037), stream.size()}) {
    CAPTURE(step);
    const auto frames = read_all(stream, step);
    REQUIRE(frames.size() == 3);
    CHECK(frames[0].first == 0x04);
    CHECK(frames[0].second.size() == 1032);
    CHECK(frames[1].first == 0x06);
    CHECK(frames[1].second.empty());
    CHECK(frames[2].second == std::vector<uint8_t>(8, 1));
  }
}

TEST_CASE("a frame longer than the limit is an error as soon as its header is read") {
  std::vector<uint8_t> ok;
  append_relay_frame(ok, RelayFrame::kSendPacket, {std::vector<uint8_t>(kMaxRelayPayload, 0)});
  bool too_large = false;
  CHECK(read_all(ok, 4096, &too_large).size() == 1);
  CHECK(!too_large);
  const std::vector<uint8_t> big = {0x04, 0x00, 0x01, 0x00, 0x20};  // kMaxRelayPayload + 1
  CHECK(read_all(big, 5, &too_large).empty());
  CHECK(too_large);
}

TEST_CASE("the key proof: only the holder of the claimed key passes") {
  const auto server = dataplane::generate_private_key();
  ServerHello hello{dataplane::public_key_of(server), {}};
  hello.challenge.fill(3);
  const auto parsed = parse_server_hello(server_hello_payload(hello));
  REQUIRE(parsed);
  CHECK(parsed->server_key == hello.server_key);
  CHECK(parsed->challenge == hello.challenge);

  const auto client = dataplane::generate_private_key();
  const auto client_pub = dataplane::public_key_of(client);
  auto proof = client_hello_payload(hello, client, client_pub);
  const auto key = verify_client_hello(proof, hello, server);
  REQUIRE(key);
  CHECK(*key == client_pub);

  // Another challenge, another server, a flipped bit, a stolen public key: all refused.
  ServerHello other = hello;
  other.challenge[0] ^= 1;
  CHECK(!verify_client_hello(proof, other, server));
  CHECK(!verify_client_hello(proof, hello, dataplane::generate_private_key()));
  for (size_t i = 0; i < proof.size(); i += 7) {
    auto bad = proof;
    bad[i] ^= 0x10;
    CHECK(!verify_client_hello(bad, hello, server));
  }
  const auto thief = client_hello_payload(hello, dataplane::generate_private_key(), client_pub);
  CHECK(!verify_client_hello(thief, hello, server));
  proof.pop_back();
  CHECK(!verify_client_hello(proof, hello, server));
  CHECK(!parse_server_hello(std::vector<uint8_t>(64, 1)));
}

TEST_CASE("keyed payloads are bounded") {
  CHECK(!parse_keyed(std::vector<uint8_t>(32, 0), 1, 10));
  CHECK(parse_keyed(std::vector<uint8_t>(33, 0), 1, 10));
  CHECK(parse_keyed(std::vector<uint8_t>(42, 0), 1, 10));
  CHECK(!parse_keyed(std::vector<uint8_t>(43, 0), 1, 10));
}

TEST_CASE("HTTP heads: the Upgrade request and response, and malformed heads") {
  const std::string req =
      "GET /relay HTTP/1.1\r\nHost: relay:8443\r\nupgrade: QVPN-Relay\r\n"
      "Connection: keep-alive, Upgrade\r\n\r\nframes follow";
  const auto len = http_head_length(req);
  REQUIRE(len);
  const auto head = parse_http_head(std::string_view(req).substr(0, *len), true);
  REQUIRE(head);
  CHECK(head->first == "GET");
  CHECK(head->second == "/relay");
  CHECK(head->header("HOST") == "relay:8443");
  CHECK(head->header_has_token("Upgrade", "qvpn-relay"));
  CHECK(head->header_has_token("connection", "upgrade"));
  CHECK(!head->header_has_token("Connection", "close"));
  CHECK(!head->header("Missing"));

  const auto resp = parse_http_head("HTTP/1.1 101 Switching Protocols\r\nUpgrade: qvpn-relay\r\n\r\n", false);
  REQUIRE(resp);
  CHECK(resp->second == "101");

  CHECK(!http_head_length("GET / HTTP/1.1\r\nHost: x\r\n"));
  for (const char* bad : {"GET /\r\n\r\n", "GET / HTTP/2.0\r\n\r\n", "G(T / HTTP/1.1\r\n\r\n",
                          "GET / HTTP/1.1\r\nno colon\r\n\r\n", "GET / HTTP/1.1\r\n: empty\r\n\r\n",
                          "GET  HTTP/1.1\r\n\r\n"}) {
    CAPTURE(bad);
    CHECK(!parse_http_head(bad, true));
  }
  CHECK(!parse_http_head("HTTP/1.1 1010 x\r\n\r\n", false));
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 65; ++i) many += "X: y\r\n";
  CHECK(!parse_http_head(many + "\r\n", true));
  CHECK(!parse_http_head("GET / HTTP/1.1\r\nX: " + std::string(kMaxHttpHead, 'a') + "\r\n\r\n", true));
}
