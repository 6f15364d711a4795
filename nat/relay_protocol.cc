#include "nat/relay_protocol.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>

namespace qvpn::nat {

namespace {
constexpr size_t kBoxSize = crypto_box_MACBYTES + kRelayChallengeSize;
constexpr size_t kClientHelloSize = 1 + 32 + crypto_box_NONCEBYTES + kBoxSize;
}  // namespace

void append_relay_frame(std::vector<uint8_t>& out, RelayFrame type,
                        std::initializer_list<std::span<const uint8_t>> parts) {
  size_t n = 0;
  for (const auto& p : parts) n += p.size();
  out.push_back(static_cast<uint8_t>(type));
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(n >> shift));
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
}

size_t RelayFrameReader::feed(std::span<const uint8_t> bytes) {
  if (consumed_) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<ptrdiff_t>(consumed_));
    consumed_ = 0;
  }
  // Take no more than completes the frame being read (the header, then its payload, or one
  // byte past the limit), so the buffer stays bounded.
  const auto take_up_to = [&](size_t want) {
    const size_t take = std::min(bytes.size(), want > buf_.size() ? want - buf_.size() : 0);
    buf_.insert(buf_.end(), bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(take));
    bytes = bytes.subspan(take);
    return take;
  };
  size_t taken = take_up_to(kRelayFrameHeader);
  if (buf_.size() >= kRelayFrameHeader) {
    const size_t len =
        size_t(buf_[1]) << 24 | size_t(buf_[2]) << 16 | size_t(buf_[3]) << 8 | buf_[4];
    taken += take_up_to(kRelayFrameHeader + std::min(len, kMaxRelayPayload + 1));
  }
  return taken;
}

RelayFrameReader::Status RelayFrameReader::next(Frame& frame) {
  const std::span<const uint8_t> b(buf_.data() + consumed_, buf_.size() - consumed_);
  if (b.size() < kRelayFrameHeader) return Status::kNeedMore;
  const size_t len = size_t(b[1]) << 24 | size_t(b[2]) << 16 | size_t(b[3]) << 8 | b[4];
  if (len > kMaxRelayPayload) return Status::kTooLarge;
  if (b.size() < kRelayFrameHeader + len) return Status::kNeedMore;
  frame.type = b[0];
  frame.payload = b.subspan(kRelayFrameHeader, len);
  consumed_ += kRelayFrameHeader + len;
  return Status::kFrame;
}

std::vector<uint8_t> server_hello_payload(const ServerHello& hello) {
  std::vector<uint8_t> p{kRelayVersion};
  p.insert(p.end(), hello.server_key.bytes.begin(), hello.server_key.bytes.end());
  p.insert(p.end(), hello.challenge.begin(), hello.challenge.end());
  return p;
}

std::optional<ServerHello> parse_server_hello(std::span<const uint8_t> payload) {
  if (payload.size() != 1 + 32 + kRelayChallengeSize || payload[0] != kRelayVersion) {
    return std::nullopt;
  }
  ServerHello h;
  std::copy_n(payload.begin() + 1, 32, h.server_key.bytes.begin());
  std::copy_n(payload.begin() + 33, kRelayChallengeSize, h.challenge.begin());
  return h;
}

std::vector<uint8_t> client_hello_payload(const ServerHello& hello,
                                          const dataplane::SecretKey& client_secret,
                                          const dataplane::PublicKey& client_public) {
  std::vector<uint8_t> p(kClientHelloSize);
  p[0] = kRelayVersion;
  std::copy(client_public.bytes.begin(), client_public.bytes.end(), p.begin() + 1);
  uint8_t* nonce = p.data() + 33;
  randombytes_buf(nonce, crypto_box_NONCEBYTES);
  if (crypto_box_easy(nonce + crypto_box_NONCEBYTES, hello.challenge.data(), hello.challenge.size(),
                      nonce, hello.server_key.bytes.data(), client_secret.span().data()) != 0) {
    // A server key of low order: no proof is possible, and the server will say so.
    std::fill(p.begin() + 33, p.end(), 0);
  }
  return p;
}

std::optional<dataplane::PublicKey> verify_client_hello(std::span<const uint8_t> payload,
                                                        const ServerHello& hello,
                                                        const dataplane::SecretKey& server_secret) {
  if (payload.size() != kClientHelloSize || payload[0] != kRelayVersion) return std::nullopt;
  dataplane::PublicKey key;
  std::copy_n(payload.begin() + 1, 32, key.bytes.begin());
  const uint8_t* nonce = payload.data() + 33;
  std::array<uint8_t, kRelayChallengeSize> opened;
  const bool ok = crypto_box_open_easy(opened.data(), nonce + crypto_box_NONCEBYTES, kBoxSize,
                                       nonce, key.bytes.data(), server_secret.span().data()) == 0 &&
                  dataplane::constant_time_equal(opened, hello.challenge);
  sodium_memzero(opened.data(), opened.size());
  if (!ok) return std::nullopt;
  return key;
}

std::optional<KeyedPayload> parse_keyed(std::span<const uint8_t> payload, size_t min_rest,
                                        size_t max_rest) {
  if (payload.size() < 32 + min_rest || payload.size() > 32 + max_rest) return std::nullopt;
  KeyedPayload k;
  std::copy_n(payload.begin(), 32, k.key.bytes.begin());
  k.rest = payload.subspan(32);
  return k;
}

std::string parse_close(std::span<const uint8_t> payload) {
  std::string reason(reinterpret_cast<const char*>(payload.data()),
                     std::min(payload.size(), kMaxCloseReason));
  for (char& c : reason) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return reason;
}

}  // namespace qvpn::nat
