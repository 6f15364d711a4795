// The relay's framing and handshake without sockets: frames split at every byte boundary,
// the length limit, bounded buffering, the key proof, and the payload parsers.
#include <doctest/doctest.h>

#include "dataplane/x25519.h"
#include "nat/relay_protocol.h"

using namespace qvpn;
using namespace qvpn::nat;

namespace {

// Feeds `stream` in pieces of `step` bytes; returns the frames (type, payload) seen.
std::vector<std::pair<uint8_t, std::vector<uint8_t>>> read_all(const std::vector<uint8_t>& stream,
                                                               size_t step,
                                                               bool* too_large = nullptr) {
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
  for (size_t step :
       {size_t(1), size_t(2), size_t(4), size_t(5), size_t(6), size_t(1037), stream.size()}) {
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

TEST_CASE("relay frames survive a split at every byte boundary") {
  std::vector<uint8_t> stream;
  const std::vector<uint8_t> key(32, 9), packet(37, 0x11);
  append_relay_frame(stream, RelayFrame::kRecvPacket, {key, packet});
  append_relay_frame(stream, RelayFrame::kServerReady, {});
  append_relay_frame(stream, static_cast<RelayFrame>(0xee), {packet});  // unknown: still a frame
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    for (size_t cut2 = cut; cut2 <= stream.size(); cut2 += 7) {
      CAPTURE(cut);
      CAPTURE(cut2);
      RelayFrameReader r;
      std::vector<std::pair<uint8_t, std::vector<uint8_t>>> frames;
      for (auto piece :
           {std::span(stream).subspan(0, cut), std::span(stream).subspan(cut, cut2 - cut),
            std::span(stream).subspan(cut2)}) {
        std::span<const uint8_t> rest = piece;
        for (;;) {
          rest = rest.subspan(r.feed(rest));
          RelayFrameReader::Frame f;
          RelayFrameReader::Status st;
          while ((st = r.next(f)) == RelayFrameReader::Status::kFrame) {
            frames.emplace_back(f.type, std::vector<uint8_t>(f.payload.begin(), f.payload.end()));
          }
          REQUIRE(st == RelayFrameReader::Status::kNeedMore);
          if (rest.empty()) break;
        }
      }
      REQUIRE(frames.size() == 3);
      CHECK(frames[0].first == 0x05);
      CHECK(frames[0].second.size() == 69);
      CHECK(frames[1].first == 0x03);
      CHECK(frames[1].second.empty());
      CHECK(frames[2].first == 0xee);
      CHECK(frames[2].second == packet);
    }
  }
}

TEST_CASE("the frame reader buffers at most one frame") {
  std::vector<uint8_t> stream;
  for (int i = 0; i < 4; ++i)
    append_relay_frame(stream, RelayFrame::kPing, {std::vector<uint8_t>(8, uint8_t(i))});
  RelayFrameReader r;
  // It takes the first frame only, and the rest once that frame has been handed out.
  CHECK(r.feed(stream) == 13);
  RelayFrameReader::Frame f;
  REQUIRE(r.next(f) == RelayFrameReader::Status::kFrame);
  CHECK(f.payload[0] == 0);
  CHECK(r.next(f) == RelayFrameReader::Status::kNeedMore);
  CHECK(r.feed(std::span(stream).subspan(13)) == 13);
  REQUIRE(r.next(f) == RelayFrameReader::Status::kFrame);
  CHECK(f.payload[0] == 1);
  // A header that announces a huge frame is not buffered beyond the limit.
  RelayFrameReader big;
  std::vector<uint8_t> huge = {0x04, 0xff, 0xff, 0xff, 0xff};
  huge.resize(200000, 0);
  CHECK(big.feed(huge) == kRelayFrameHeader + kMaxRelayPayload + 1);
  CHECK(big.next(f) == RelayFrameReader::Status::kTooLarge);
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

TEST_CASE("frame encoding: header, big-endian length, concatenated parts") {
  std::vector<uint8_t> out = {0xaa};
  const std::vector<uint8_t> a = {1, 2}, b = {3};
  append_relay_frame(out, RelayFrame::kPeerGone, {a, b});
  CHECK(out == std::vector<uint8_t>{0xaa, 0x07, 0, 0, 0, 3, 1, 2, 3});
  out.clear();
  append_relay_frame(out, RelayFrame::kSendPacket, {std::vector<uint8_t>(kMaxRelayPayload, 0)});
  CHECK(std::vector<uint8_t>(out.begin(), out.begin() + 5) ==
        std::vector<uint8_t>{0x04, 0x00, 0x01, 0x00, 0x1f});
  static_assert(kMaxRelayPayload == 0x1001f);
}

TEST_CASE("server hello: exact size and version") {
  ServerHello hello{dataplane::public_key_of(dataplane::generate_private_key()), {}};
  hello.challenge.fill(0x5c);
  auto p = server_hello_payload(hello);
  REQUIRE(p.size() == 65);
  CHECK(p[0] == kRelayVersion);
  CHECK(parse_server_hello(p));
  p[0] = 2;
  CHECK(!parse_server_hello(p));
  p[0] = kRelayVersion;
  p.push_back(0);
  CHECK(!parse_server_hello(p));
  p.resize(64);
  CHECK(!parse_server_hello(p));
  CHECK(!parse_server_hello({}));
}

TEST_CASE("client hello: the whole challenge is compared, and the version is checked") {
  const auto server = dataplane::generate_private_key();
  ServerHello hello{dataplane::public_key_of(server), {}};
  hello.challenge.fill(0x77);
  const auto client = dataplane::generate_private_key();
  auto proof = client_hello_payload(hello, client, dataplane::public_key_of(client));
  REQUIRE(proof.size() == 1 + 32 + 24 + 48);
  for (size_t i : {size_t(0), size_t(15), size_t(31)}) {
    ServerHello other = hello;
    other.challenge[i] ^= 0x80;  // a challenge differing in any one byte fails
    CHECK(!verify_client_hello(proof, other, server));
  }
  CHECK(verify_client_hello(proof, hello, server));
  proof[0] = 2;
  CHECK(!verify_client_hello(proof, hello, server));
  // Two proofs of the same challenge differ (fresh nonces) and both pass.
  const auto again = client_hello_payload(hello, client, dataplane::public_key_of(client));
  CHECK(std::vector<uint8_t>(again.begin() + 33, again.end()) !=
        std::vector<uint8_t>(proof.begin() + 33, proof.end()));
  CHECK(verify_client_hello(again, hello, server));
}

TEST_CASE("keyed payloads round-trip; PeerGone has exactly one reason byte") {
  std::vector<uint8_t> frame;
  const auto key = dataplane::public_key_of(dataplane::generate_private_key());
  const std::vector<uint8_t> packet = {9, 8, 7};
  append_relay_frame(frame, RelayFrame::kSendPacket, {key.bytes, packet});
  const auto p = parse_keyed(std::span(frame).subspan(5), 1, kMaxRelayPacket);
  REQUIRE(p);
  CHECK(p->key == key);
  CHECK(std::vector<uint8_t>(p->rest.begin(), p->rest.end()) == packet);
  const uint8_t reason = kPeerGoneNotHere;
  std::vector<uint8_t> gone(key.bytes.begin(), key.bytes.end());
  gone.push_back(reason);
  CHECK(parse_keyed(gone, 1, 1));
  gone.push_back(0);
  CHECK(!parse_keyed(gone, 1, 1));
  CHECK(!parse_keyed(std::vector<uint8_t>(32 + kMaxRelayPacket + 1, 0), 1, kMaxRelayPacket));
  CHECK(parse_keyed(std::vector<uint8_t>(32 + kMaxRelayPacket, 0), 1, kMaxRelayPacket));
}

TEST_CASE("close reasons are bounded and printable") {
  const std::string_view text = "replaced by a newer connection";
  CHECK(parse_close({reinterpret_cast<const uint8_t*>(text.data()), text.size()}) == text);
  const std::vector<uint8_t> nasty = {'a', '\n', 0, 0x1b, 0x7f, 0xc3, 0xa9};
  CHECK(parse_close(nasty) == "a????\xc3\xa9");
  CHECK(parse_close(std::vector<uint8_t>(1000, 'x')).size() == kMaxCloseReason);
  CHECK(parse_close({}).empty());
}
