#pragma once
// An IP prefix such as 10.0.0.0/24 or fd00::/64, stored with its host bits cleared.
#include <optional>
#include <string>
#include <string_view>

#include "platform/endpoint.h"

namespace qvpn::dataplane {

struct IpPrefix {
  platform::IpAddress addr;  // host bits zero
  uint8_t len = 0;           // 0..32 or 0..128
  bool operator==(const IpPrefix&) const = default;
  std::string to_string() const;  // "10.0.0.0/24"
  // "10.0.0.1/24" -> 10.0.0.0/24; a bare address means /32 or /128.
  static std::optional<IpPrefix> parse(std::string_view text);
  static IpPrefix of(const platform::IpAddress& a, uint8_t len);  // clears host bits
  bool contains(const platform::IpAddress& a) const;
};

}  // namespace qvpn::dataplane
