#include "dataplane/ip_prefix.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

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

std::string IpPrefix::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(addr.v6 ? AF_INET6 : AF_INET, addr.bytes.data(), buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(len);
}

std::optional<IpPrefix> IpPrefix::parse(std::string_view text) {
  const size_t slash = text.find('/');
  // inet_pton needs a terminated string; anything longer than an IPv6 literal is not one.
  const std::string_view addr_text = text.substr(0, slash);
  if (addr_text.empty() || addr_text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string addr_z(addr_text);

  platform::IpAddress a;
  if (inet_pton(AF_INET, addr_z.c_str(), a.bytes.data()) == 1) {
    a.v6 = false;
  } else if (inet_pton(AF_INET6, addr_z.c_str(), a.bytes.data()) == 1) {
    a.v6 = true;
  } else {
    return std::nullopt;
  }

  unsigned len = max_len(a);
  if (slash != std::string_view::npos) {
    // from_chars takes digits only (no sign, no space); a valid length has at most three.
    const std::string_view len_text = text.substr(slash + 1);
    if (len_text.empty() || len_text.size() > 3) return std::nullopt;
    const auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
    if (ec != std::errc() || end != len_text.data() + len_text.size()) return std::nullopt;
    if (len > max_len(a)) return std::nullopt;
  }
  return of(a, static_cast<uint8_t>(len));
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
