#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "platform/gateway.h"

namespace qvpn::platform {
namespace {

// Route flags from <linux/route.h>.
constexpr uint32_t kRtfUp = 0x0001;
constexpr uint32_t kRtfGateway = 0x0002;

std::optional<uint32_t> parse_uint(std::string_view text, int base) {
  uint32_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, base);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return v;
}

std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

}  // namespace

std::optional<DefaultRoute> parse_default_route(std::string_view text) {
  std::optional<DefaultRoute> best;
  uint32_t best_metric = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);

    // Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT; the header
    // line fails the number parsing like any malformed line.
    const auto f = fields_of(line);
    if (f.size() < 8) continue;
    const auto dst = parse_uint(f[1], 16), gw = parse_uint(f[2], 16), flags = parse_uint(f[3], 16),
               metric = parse_uint(f[6], 10), mask = parse_uint(f[7], 16);
    if (!dst || !gw || !flags || !metric || !mask) continue;
    if (*dst != 0 || *mask != 0 || *gw == 0) continue;
    if ((*flags & (kRtfUp | kRtfGateway)) != (kRtfUp | kRtfGateway)) continue;
    if (best && *metric >= best_metric) continue;
    DefaultRoute route;
    route.interface = std::string(f[0]);
    std::memcpy(route.gateway.bytes.data(), &*gw, 4);  // the kernel printed it in host order
    best = std::move(route);
    best_metric = *metric;
  }
  return best;
}

std::optional<DefaultRoute> default_route_v4() {
  std::ifstream in("/proc/net/route");
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return parse_default_route(text.str());
}

std::optional<IpAddress> source_address_toward(const IpAddress& dest) {
  const int fd = ::socket(dest.v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_storage to{};
  const socklen_t to_len = Endpoint{dest, 9}.to_sockaddr(to, false);  // any port: nothing is sent
  std::optional<IpAddress> out;
  sockaddr_storage local{};
  socklen_t local_len = sizeof local;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), to_len) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) == 0) {
    if (const auto ep =
            Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&local), local_len)) {
      out = ep->ip;
    }
  }
  ::close(fd);
  return out;
}

}  // namespace qvpn::platform
