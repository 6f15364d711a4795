#include "dataplane/ip_prefix.h"

#include <algorithm>

namespace qvpn::dataplane {

namespace {

// Clears every bit of `bytes` from bit `len` on (bit 0 is the top bit of byte 0).
void clear_host_bits(std::array<uint8_t, 16>& bytes, unsigned len) {
  for (unsigned i = 0; i < bytes.size(); ++i) {
    const unsigned first_bit = i * 8;
    if (first_bit >= len) {
      bytes[i] = 0;
    } else if (len - first_bit < 8) {
      bytes[i] &= static_cast<uint8_t>(0xff << (8 - (len - first_bit)));
    }
  }
}

unsigned max_len(const platform::IpAddress& a) { return a.v6 ? 128 : 32; }

}  // namespace

std::string IpPrefix::to_string() const { return addr.to_string() + "/" + std::to_string(len); }

// The same text as an interface address ("10.0.0.1/24", bare = /32 or /128), host bits cleared.
std::optional<IpPrefix> IpPrefix::parse(std::string_view text) {
  const auto a = platform::InterfaceAddress::parse(text);
  if (!a) return std::nullopt;
  return of(a->ip, a->prefix_len);
}

IpPrefix IpPrefix::of(const platform::IpAddress& a, uint8_t len) {
  IpPrefix p;
  p.addr = a;
  // A length past the family's width means the whole address.
  p.len = static_cast<uint8_t>(std::min<unsigned>(len, max_len(a)));
  clear_host_bits(p.addr.bytes, p.len);
  return p;
}

bool IpPrefix::contains(const platform::IpAddress& a) const {
  if (a.v6 != addr.v6) return false;
  return of(a, len).addr == addr;
}

}  // namespace qvpn::dataplane
