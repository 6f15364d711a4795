#include "dataplane/keys.h"

#include <sodium.h>

#include <algorithm>

namespace qvpn::dataplane {

namespace {

// libsodium asks for sodium_init() before other calls; do it once, lazily, so static
// initialisation order never matters. (Wiping and zero checks work without it and are
// called from destructors, so they skip this.)
void ensure_sodium() {
  static const bool ok = sodium_init() >= 0;
  (void)ok;
}

}  // namespace

bool PublicKey::is_zero() const { return sodium_is_zero(bytes.data(), bytes.size()) != 0; }

SecretKey::SecretKey(std::span<const uint8_t, kKeySize> b) {
  std::copy(b.begin(), b.end(), bytes_.begin());
}

SecretKey::SecretKey(const SecretKey& o) : bytes_(o.bytes_) {}

SecretKey& SecretKey::operator=(const SecretKey& o) {
  bytes_ = o.bytes_;  // self-assignment is harmless
  return *this;
}

SecretKey::~SecretKey() { wipe(); }

bool SecretKey::is_zero() const { return sodium_is_zero(bytes_.data(), bytes_.size()) != 0; }

void SecretKey::wipe() { sodium_memzero(bytes_.data(), bytes_.size()); }

bool SecretKey::equals(const SecretKey& o) const {
  ensure_sodium();
  return crypto_verify_32(bytes_.data(), o.bytes_.data()) == 0;
}

bool constant_time_equal(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  // Lengths are public; only the contents need constant-time treatment.
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  ensure_sodium();
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

void secure_wipe(void* p, size_t n) { sodium_memzero(p, n); }

std::string to_base64(std::span<const uint8_t, kKeySize> key) {
  char buf[sodium_base64_ENCODED_LEN(kKeySize, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(buf, sizeof buf, key.data(), key.size(), sodium_base64_VARIANT_ORIGINAL);
  return std::string(buf);
}

std::optional<KeyBytes> key_from_base64(std::string_view text) {
  // 32 bytes are always 43 characters plus one '='; anything else is not a key, even if it
  // decodes to 32 bytes with whitespace or missing padding.
  constexpr size_t kBase64KeyLen =
      sodium_base64_ENCODED_LEN(kKeySize, sodium_base64_VARIANT_ORIGINAL) - 1;
  if (text.size() != kBase64KeyLen) return std::nullopt;
  KeyBytes key{};
  size_t len = 0;
  const char* end = nullptr;
  // libsodium also rejects non-zero bits after the last full byte, so every key has
  // exactly one text form, as in wg(8).
  if (sodium_base642bin(key.data(), key.size(), text.data(), text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      len != kKeySize || end != text.data() + text.size()) {
    sodium_memzero(key.data(), key.size());
    return std::nullopt;
  }
  return key;
}

std::string to_hex(std::span<const uint8_t, kKeySize> key) {
  char buf[2 * kKeySize + 1];
  sodium_bin2hex(buf, sizeof buf, key.data(), key.size());
  return std::string(buf, 2 * kKeySize);
}

std::optional<KeyBytes> key_from_hex(std::string_view text) {
  if (text.size() != 2 * kKeySize) return std::nullopt;
  KeyBytes key{};
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(key.data(), key.size(), text.data(), text.size(), nullptr, &len, &end) != 0 ||
      len != kKeySize || end != text.data() + text.size()) {
    sodium_memzero(key.data(), key.size());
    return std::nullopt;
  }
  return key;
}

}  // namespace qvpn::dataplane
