// Fuzzes what the relay reads from the network (nat/relay_protocol.h, nat/http_head.h).
//
// Input: byte 0 picks the chunk size (1..256) for the frame reader; the rest is the stream.
// - The stream read in chunks yields exactly the frames read in one piece, each at most
//   kMaxRelayPayload, and re-encoding them gives back the bytes they came from; it stops
//   only at a length over the limit.
// - Every frame's payload goes through every payload parser: what parses re-encodes to the
//   same bytes, keyed payloads respect their bounds, close reasons are short and printable,
//   and no ClientHello from the input passes the key proof (it would need the box forged).
// - The stream is also an HTTP head, as request and as response: a parsed head is within
//   its bounds and parses to the same thing once written out again.
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/x25519.h"
#include "nat/http_head.h"
#include "nat/relay_protocol.h"
#include "support/keys.h"

namespace {

using namespace qvpn;
using namespace qvpn::nat;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_relay: %s\n", what);
  std::abort();
}

struct Read {
  std::vector<std::pair<uint8_t, std::vector<uint8_t>>> frames;
  size_t consumed = 0;  // bytes of complete frames
  bool too_large = false;
};

Read read_frames(std::span<const uint8_t> stream, size_t chunk) {
  Read out;
  RelayFrameReader reader;
  while (!stream.empty() && !out.too_large) {
    std::span<const uint8_t> piece = stream.first(std::min(chunk, stream.size()));
    stream = stream.subspan(piece.size());
    while (!piece.empty() && !out.too_large) {
      const size_t took = reader.feed(piece);
      if (took > piece.size()) fail("feed took more than it was given");
      piece = piece.subspan(took);
      RelayFrameReader::Frame f;
      RelayFrameReader::Status s;
      while ((s = reader.next(f)) == RelayFrameReader::Status::kFrame) {
        if (f.payload.size() > kMaxRelayPayload) fail("frame over the limit");
        out.frames.emplace_back(f.type, std::vector<uint8_t>(f.payload.begin(), f.payload.end()));
        out.consumed += kRelayFrameHeader + f.payload.size();
      }
      out.too_large = s == RelayFrameReader::Status::kTooLarge;
      if (took == 0 && !out.too_large && !piece.empty()) fail("reader stalled");
    }
  }
  return out;
}

void check_payload(std::span<const uint8_t> p) {
  static const dataplane::SecretKey server = test::secret(1);
  if (const auto hello = parse_server_hello(p)) {
    const auto again = server_hello_payload(*hello);
    if (!std::equal(again.begin(), again.end(), p.begin(), p.end())) fail("ServerHello round trip");
  }
  ServerHello fixed{dataplane::public_key_of(server), {}};
  if (verify_client_hello(p, fixed, server)) fail("garbage passed the key proof");
  if (const auto k = parse_keyed(p, 1, kMaxRelayPacket)) {
    if (k->rest.empty() || k->rest.size() > kMaxRelayPacket || k->rest.data() != p.data() + 32) {
      fail("keyed payload bounds");
    }
  }
  const std::string reason = parse_close(p);
  if (reason.size() > kMaxCloseReason) fail("close reason too long");
  for (char c : reason) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      fail("control character in a close reason");
  }
}

std::string write_head(const HttpHead& h) {
  std::string out = h.first + " " + h.second + " " + h.third + "\r\n";
  for (const auto& [name, value] : h.headers) out += name + ": " + value + "\r\n";
  return out + "\r\n";
}

void check_http(std::string_view text) {
  const auto len = http_head_length(text);
  if (len && (*len > text.size() || !text.substr(0, *len).ends_with("\r\n\r\n")))
    fail("head length");
  for (bool request : {true, false}) {
    const std::string_view head = len ? text.substr(0, *len) : text;
    const auto h = parse_http_head(head, request);
    if (!h) continue;
    if (head.size() > kMaxHttpHead || h->headers.size() > kMaxHttpHeaders)
      fail("head over its bounds");
    const std::string again = write_head(*h);
    const auto h2 = again.size() <= kMaxHttpHead ? parse_http_head(again, request) : h;
    if (!h2 || h2->first != h->first || h2->second != h->second || h2->third != h->third ||
        h2->headers != h->headers) {
      fail("HTTP head round trip");
    }
    for (const auto& [name, value] : h->headers) {
      if (!h->header(name)) fail("header lookup");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = size_t(data[0]) + 1;
  const std::span<const uint8_t> stream(data + 1, size - 1);

  const Read whole = read_frames(stream, stream.size() + 1);
  const Read chunked = read_frames(stream, chunk);
  if (whole.frames != chunked.frames || whole.too_large != chunked.too_large) {
    fail("chunking changed the frames");
  }
  std::vector<uint8_t> encoded;
  for (const auto& [type, payload] : whole.frames) {
    append_relay_frame(encoded, static_cast<RelayFrame>(type), {payload});
    check_payload(payload);
  }
  if (encoded.size() != whole.consumed ||
      !std::equal(encoded.begin(), encoded.end(), stream.begin())) {
    fail("re-encoded frames differ from the stream");
  }
  if (whole.too_large) {
    const auto h = stream.subspan(whole.consumed);
    if (h.size() < kRelayFrameHeader) fail("too large without a header");
    const size_t len = size_t(h[1]) << 24 | size_t(h[2]) << 16 | size_t(h[3]) << 8 | h[4];
    if (len <= kMaxRelayPayload) fail("a frame within the limit was refused");
  }

  check_http({reinterpret_cast<const char*>(stream.data()), stream.size()});
  return 0;
}
