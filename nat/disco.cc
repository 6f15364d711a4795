#include "nat/disco.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>

namespace qvpn::nat {

namespace {

constexpr size_t kKeyOffset = kDiscoMagic.size();
constexpr size_t kNonceOffset = kKeyOffset + 32;
constexpr size_t kBoxOffset = kNonceOffset + crypto_box_NONCEBYTES;
constexpr size_t kMinSize = kBoxOffset + crypto_box_MACBYTES + 2;

enum Type : uint8_t { kPing = 1, kPong = 2, kCallMeMaybe = 3 };
enum Flags : uint8_t { kOpened = 1, kHardNat = 2 };

void put_endpoint(std::vector<uint8_t>& out, const platform::Endpoint& ep) {
  out.push_back(ep.ip.v6 ? 6 : 4);
  out.insert(out.end(), ep.ip.bytes.begin(), ep.ip.bytes.begin() + ep.ip.size());
  out.push_back(static_cast<uint8_t>(ep.port >> 8));
  out.push_back(static_cast<uint8_t>(ep.port));
}

// Reads from a plaintext, refusing anything short.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  bool done() const { return pos_ == bytes_.size(); }
  std::optional<uint8_t> byte() {
    if (pos_ >= bytes_.size()) return std::nullopt;
    return bytes_[pos_++];
  }
  bool take(uint8_t* out, size_t n) {
    if (bytes_.size() - pos_ < n) return false;
    std::memcpy(out, bytes_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  std::optional<platform::Endpoint> endpoint() {
    const auto family = byte();
    if (!family || (*family != 4 && *family != 6)) return std::nullopt;
    platform::Endpoint ep;
    ep.ip.v6 = *family == 6;
    uint8_t port[2];
    if (!take(ep.ip.bytes.data(), ep.ip.size()) || !take(port, 2)) return std::nullopt;
    ep.port = static_cast<uint16_t>(port[0] << 8 | port[1]);
    return ep;
  }

 private:
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

std::vector<uint8_t> plaintext_of(const DiscoMessage& message) {
  std::vector<uint8_t> p{kDiscoVersion};
  if (const auto* ping = std::get_if<DiscoPing>(&message)) {
    p.push_back(kPing);
    p.insert(p.end(), ping->txid.begin(), ping->txid.end());
  } else if (const auto* pong = std::get_if<DiscoPong>(&message)) {
    p.push_back(kPong);
    p.insert(p.end(), pong->txid.begin(), pong->txid.end());
    put_endpoint(p, pong->src);
  } else {
    const auto& cmm = std::get<DiscoCallMeMaybe>(message);
    p.push_back(kCallMeMaybe);
    p.push_back(static_cast<uint8_t>((cmm.opened_toward ? kOpened : 0) | (cmm.hard_nat ? kHardNat : 0)));
    p.push_back(cmm.generation);
    p.push_back(cmm.opened_toward.value_or(0));
    const size_t n = std::min(cmm.endpoints.size(), kDiscoMaxEndpoints);
    p.push_back(static_cast<uint8_t>(n));
    for (size_t i = 0; i < n; ++i) put_endpoint(p, cmm.endpoints[i]);
  }
  return p;
}

std::optional<DiscoMessage> parse_plaintext(std::span<const uint8_t> plain) {
  Reader r(plain);
  const auto version = r.byte();
  const auto type = r.byte();
  if (version != kDiscoVersion || !type) return std::nullopt;
  DiscoMessage message;
  switch (*type) {
    case kPing: {
      DiscoPing ping;
      if (!r.take(ping.txid.data(), ping.txid.size())) return std::nullopt;
      message = ping;
      break;
    }
    case kPong: {
      DiscoPong pong;
      if (!r.take(pong.txid.data(), pong.txid.size())) return std::nullopt;
      const auto src = r.endpoint();
      if (!src) return std::nullopt;
      pong.src = *src;
      message = pong;
      break;
    }
    case kCallMeMaybe: {
      DiscoCallMeMaybe cmm;
      const auto flags = r.byte();
      const auto generation = r.byte();
      const auto toward = r.byte();
      const auto count = r.byte();
      if (!count || *count > kDiscoMaxEndpoints) return std::nullopt;
      cmm.generation = *generation;
      if (*flags & kOpened) cmm.opened_toward = *toward;
      cmm.hard_nat = *flags & kHardNat;
      for (int i = 0; i < *count; ++i) {
        const auto ep = r.endpoint();
        if (!ep) return std::nullopt;
        cmm.endpoints.push_back(*ep);
      }
      message = std::move(cmm);
      break;
    }
    default:
      return std::nullopt;
  }
  if (!r.done()) return std::nullopt;
  return message;
}

}  // namespace

DiscoTxId new_disco_txid() {
  DiscoTxId id;
  randombytes_buf(id.data(), id.size());
  return id;
}

bool is_disco(std::span<const uint8_t> bytes) {
  return bytes.size() >= kMinSize && bytes.size() <= kDiscoMaxSize &&
         std::equal(kDiscoMagic.begin(), kDiscoMagic.end(), bytes.begin());
}

std::optional<dataplane::PublicKey> disco_sender(std::span<const uint8_t> bytes) {
  if (!is_disco(bytes)) return std::nullopt;
  dataplane::PublicKey key;
  std::memcpy(key.bytes.data(), bytes.data() + kKeyOffset, key.bytes.size());
  return key;
}

DiscoBox::DiscoBox(const dataplane::SecretKey& ours, const dataplane::PublicKey& theirs) {
  if (crypto_box_beforenm(shared_.data(), theirs.bytes.data(), ours.span().data()) != 0) {
    // A low-order public key: no box will ever open.
    randombytes_buf(shared_.data(), shared_.size());
  }
}

DiscoBox::~DiscoBox() { sodium_memzero(shared_.data(), shared_.size()); }

std::vector<uint8_t> DiscoBox::seal(const DiscoMessage& message,
                                    const dataplane::PublicKey& our_public) const {
  std::vector<uint8_t> plain = plaintext_of(message);
  std::vector<uint8_t> out(kBoxOffset + crypto_box_MACBYTES + plain.size());
  std::copy(kDiscoMagic.begin(), kDiscoMagic.end(), out.begin());
  std::copy(our_public.bytes.begin(), our_public.bytes.end(), out.begin() + kKeyOffset);
  randombytes_buf(out.data() + kNonceOffset, crypto_box_NONCEBYTES);
  crypto_box_easy_afternm(out.data() + kBoxOffset, plain.data(), plain.size(),
                          out.data() + kNonceOffset, shared_.data());
  return out;
}

std::optional<DiscoMessage> DiscoBox::open(std::span<const uint8_t> bytes) const {
  if (!is_disco(bytes)) return std::nullopt;
  const size_t box_size = bytes.size() - kBoxOffset;
  std::array<uint8_t, kDiscoMaxSize> plain;
  if (crypto_box_open_easy_afternm(plain.data(), bytes.data() + kBoxOffset, box_size,
                                   bytes.data() + kNonceOffset, shared_.data()) != 0) {
    return std::nullopt;
  }
  return parse_plaintext({plain.data(), box_size - crypto_box_MACBYTES});
}

}  // namespace qvpn::nat
