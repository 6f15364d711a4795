#include "core/uapi_client.h"

#include <fmt/core.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace qvpn::core {
namespace {

void for_each_line(std::string_view text, auto&& fn) {
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? "" : text.substr(nl + 1);
    if (line.empty()) break;
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) throw std::runtime_error("uapi: malformed line");
    fn(line.substr(0, eq), line.substr(eq + 1));
  }
}

uint64_t to_u64(std::string_view v) {
  uint64_t out = 0;
  if (v.empty() || v.size() > 20) throw std::runtime_error("uapi: bad number");
  for (char c : v) {
    if (c < '0' || c > '9') throw std::runtime_error("uapi: bad number");
    out = out * 10 + uint64_t(c - '0');
  }
  return out;
}

dataplane::KeyBytes hex_key(std::string_view v) {
  auto k = dataplane::key_from_hex(v);
  if (!k) throw std::runtime_error("uapi: bad key");
  return *k;
}

}  // namespace

std::string uapi_request(const std::filesystem::path& socket_path, std::string_view request) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string p = socket_path.string();
  if (p.size() >= sizeof(addr.sun_path)) {
    ::close(fd);
    throw std::system_error(ENAMETOOLONG, std::generic_category(), p);
  }
  std::memcpy(addr.sun_path, p.c_str(), p.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
    const int e = errno;
    ::close(fd);
    throw std::system_error(e, std::generic_category(), p);
  }
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += size_t(n);
  }
  std::string answer;
  char buf[4096];
  while (answer.find("\n\n") == std::string::npos) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    answer.append(buf, size_t(n));
  }
  ::close(fd);
  if (answer.find("\n\n") == std::string::npos) {
    throw std::system_error(EIO, std::generic_category(), p + ": no answer");
  }
  return answer;
}

UapiState parse_uapi_get(std::string_view answer) {
  UapiState s;
  UapiPeerState* peer = nullptr;
  int err = -1;
  for_each_line(answer, [&](std::string_view k, std::string_view v) {
    if (k == "errno") {
      err = int(to_u64(v));
    } else if (k == "private_key") {
      s.private_key = dataplane::SecretKey(hex_key(v));
    } else if (k == "listen_port") {
      s.listen_port = uint16_t(to_u64(v));
    } else if (k == "fwmark") {
      s.fwmark = uint32_t(to_u64(v));
    } else if (k == "public_key") {
      peer = &s.peers.emplace_back();
      peer->public_key.bytes = hex_key(v);
    } else if (!peer) {
      // interface keys we do not show
    } else if (k == "preshared_key") {
      dataplane::SecretKey psk(hex_key(v));
      if (!psk.is_zero()) peer->preshared_key = psk;
    } else if (k == "endpoint") {
      peer->endpoint = platform::Endpoint::parse(v);
    } else if (k == "last_handshake_time_sec") {
      peer->last_handshake_sec = int64_t(to_u64(v));
    } else if (k == "last_handshake_time_nsec") {
      peer->last_handshake_nsec = int64_t(to_u64(v));
    } else if (k == "rx_bytes") {
      peer->rx_bytes = to_u64(v);
    } else if (k == "tx_bytes") {
      peer->tx_bytes = to_u64(v);
    } else if (k == "persistent_keepalive_interval") {
      peer->persistent_keepalive = uint16_t(to_u64(v));
    } else if (k == "allowed_ip") {
      if (auto p = dataplane::IpPrefix::parse(v)) peer->allowed_ips.push_back(*p);
    }
  });
  if (err != 0) throw std::runtime_error(fmt::format("uapi: errno={}", err));
  return s;
}

std::map<std::string, uint64_t> parse_uapi_counters(std::string_view answer) {
  std::map<std::string, uint64_t> out;
  int err = -1;
  for_each_line(answer, [&](std::string_view k, std::string_view v) {
    if (k == "errno") {
      err = int(to_u64(v));
    } else {
      out[std::string(k)] = to_u64(v);
    }
  });
  if (err != 0) throw std::runtime_error(fmt::format("uapi: errno={}", err));
  return out;
}

std::vector<std::string> uapi_interfaces(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".sock") out.push_back(entry.path().stem().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace qvpn::core
