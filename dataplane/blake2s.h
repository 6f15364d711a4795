#pragma once
// BLAKE2s (RFC 7693), keyed and unkeyed, with outputs of 1..32 bytes, and HMAC-BLAKE2s.
// Our own code: no Debian library ships BLAKE2s.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace qvpn::dataplane {

inline constexpr size_t kBlake2sBlockSize = 64;
inline constexpr size_t kBlake2sHashSize = 32;

class Blake2s {
 public:
  // outlen in 1..32; key at most 32 bytes (empty for unkeyed).
  explicit Blake2s(size_t outlen = kBlake2sHashSize, std::span<const uint8_t> key = {});
  ~Blake2s();  // wipes state
  void update(std::span<const uint8_t> in);
  // out.size() must equal outlen.
  void final(std::span<uint8_t> out);

 private:
  void compress(const uint8_t* block, bool last);
  std::array<uint32_t, 8> h_{};
  std::array<uint32_t, 2> t_{};
  std::array<uint8_t, kBlake2sBlockSize> buf_{};
  size_t buflen_ = 0;
  size_t outlen_;
};

// One-shot hash; out.size() in 1..32 is the digest length.
void blake2s(std::span<uint8_t> out, std::span<const uint8_t> in, std::span<const uint8_t> key = {});

// HMAC (RFC 2104) over BLAKE2s with its 64-byte block, as WireGuard's KDF uses it.
void hmac_blake2s(std::span<uint8_t, kBlake2sHashSize> out, std::span<const uint8_t> key,
                  std::span<const uint8_t> in);

}  // namespace qvpn::dataplane
