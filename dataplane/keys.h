#pragma once
// Key types. Secret material wipes itself when it goes out of scope and compares in
// constant time; public keys are plain values. Text forms are those of `wg`: base64 for
// users, lowercase hex for the UAPI.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "dataplane/messages.h"

namespace qvpn::dataplane {

using KeyBytes = std::array<uint8_t, kKeySize>;

struct PublicKey {
  KeyBytes bytes{};
  bool operator==(const PublicKey&) const = default;
  bool is_zero() const;
};

// A 32-byte secret (private key, preshared key, chaining key...). Wiped on destruction.
class SecretKey {
 public:
  SecretKey() = default;
  explicit SecretKey(std::span<const uint8_t, kKeySize> b);
  SecretKey(const SecretKey& o);
  SecretKey& operator=(const SecretKey& o);
  ~SecretKey();

  uint8_t* data() { return bytes_.data(); }
  const uint8_t* data() const { return bytes_.data(); }
  std::span<uint8_t, kKeySize> span() { return bytes_; }
  std::span<const uint8_t, kKeySize> span() const { return bytes_; }
  bool is_zero() const;  // constant time
  void wipe();
  // Constant time.
  bool equals(const SecretKey& o) const;

 private:
  KeyBytes bytes_{};
};

// Constant-time comparison of equal-length buffers.
bool constant_time_equal(std::span<const uint8_t> a, std::span<const uint8_t> b);
// Overwrites memory in a way the compiler may not elide.
void secure_wipe(void* p, size_t n);

std::string to_base64(std::span<const uint8_t, kKeySize> key);
std::optional<KeyBytes> key_from_base64(std::string_view text);  // exactly 44 chars, 32 bytes
std::string to_hex(std::span<const uint8_t, kKeySize> key);
std::optional<KeyBytes> key_from_hex(std::string_view text);  // exactly 64 hex chars

}  // namespace qvpn::dataplane
