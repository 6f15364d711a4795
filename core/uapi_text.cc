#include "core/uapi_text.h"

#include <charconv>
#include <limits>
#include <stdexcept>

namespace qvpn::core {

namespace {

// Decimal digits only, as Go's strconv.ParseUint(s, 10, bits): no sign, no space, not empty.
template <typename T>
std::optional<T> parse_unsigned(std::string_view text) {
  if (text.empty() || text.front() < '0' || text.front() > '9') return std::nullopt;
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// "10.0.0.0/24" with an explicit length (netip.ParsePrefix); no leading zeros in it.
std::optional<dataplane::IpPrefix> parse_allowed_ip(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const std::string_view len = text.substr(slash + 1);
  if (len.empty() || (len.size() > 1 && len.front() == '0')) return std::nullopt;
  return dataplane::IpPrefix::parse(text);
}

// One "key=value" line taken off the front of `text`; nullopt at the blank line that ends
// an operation, or at the end. A CR before the LF is dropped.
struct UapiLine {
  std::string_view text;
  std::string_view key;
  std::string_view value;
  bool has_equals;
};
std::optional<UapiLine> next_line(std::string_view& text) {
  const size_t eol = text.find('\n');
  std::string_view line = text.substr(0, eol);
  text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) return std::nullopt;
  const size_t eq = line.find('=');
  if (eq == std::string_view::npos) return UapiLine{line, {}, {}, false};
  return UapiLine{line, line.substr(0, eq), line.substr(eq + 1), true};
}

UapiError invalid(std::string message) { return UapiError{kUapiErrorInvalid, std::move(message)}; }

// Keys echoed into log messages are cut short; values are never echoed, as they may be keys.
std::string shown(std::string_view key) {
  constexpr size_t kMaxShown = 64;
  std::string out;
  for (char c : key.substr(0, kMaxShown)) {
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  return out;
}

// The value setters below leave `out` alone and return `error` when the value does not parse.

// 64 hex digits; all zeros is allowed (FromMaybeZeroHex) and removes the key.
std::optional<UapiError> set_secret(std::optional<dataplane::SecretKey>& out,
                                    std::string_view value, const char* error) {
  auto bytes = dataplane::key_from_hex(value);
  if (!bytes) return invalid(error);
  out.emplace(std::span<const uint8_t, dataplane::kKeySize>(*bytes));
  dataplane::secure_wipe(bytes->data(), bytes->size());
  return std::nullopt;
}

template <typename T>
std::optional<UapiError> set_unsigned(std::optional<T>& out, std::string_view value,
                                      const char* error) {
  const auto n = parse_unsigned<T>(value);
  if (!n) return invalid(error);
  out = *n;
  return std::nullopt;
}

// wireguard-go's flags take "true" and nothing else.
std::optional<UapiError> set_flag(bool& out, std::string_view value, const char* error) {
  if (value != "true") return invalid(error);
  out = true;
  return std::nullopt;
}

std::optional<UapiError> set_device_key(UapiSet& set, std::string_view key,
                                        std::string_view value) {
  if (key == "private_key") {
    return set_secret(set.private_key, value, "failed to set private_key: not 64 hex digits");
  }
  if (key == "listen_port")
    return set_unsigned(set.listen_port, value, "failed to parse listen_port");
  if (key == "fwmark") return set_unsigned(set.fwmark, value, "invalid fwmark");
  if (key == "replace_peers") {
    return set_flag(set.replace_peers, value, "failed to set replace_peers, invalid value");
  }
  return invalid("invalid UAPI device key: " + shown(key));
}

std::optional<UapiError> set_peer_key(UapiPeerSet& peer, std::string_view key,
                                      std::string_view value) {
  if (key == "update_only") {
    return set_flag(peer.update_only, value, "failed to set update only, invalid value");
  }
  if (key == "remove") return set_flag(peer.remove, value, "failed to set remove, invalid value");
  if (key == "preshared_key") {
    return set_secret(peer.preshared_key, value, "failed to set preshared key: not 64 hex digits");
  }
  if (key == "endpoint") {
    const auto endpoint = platform::Endpoint::parse(value);
    if (!endpoint) return invalid("failed to set endpoint " + shown(value));
    peer.endpoint = *endpoint;
    return std::nullopt;
  }
  if (key == "persistent_keepalive_interval") {
    return set_unsigned(peer.persistent_keepalive, value,
                        "failed to set persistent keepalive interval");
  }
  if (key == "replace_allowed_ips") {
    auto error =
        set_flag(peer.replace_allowed_ips, value, "failed to replace allowedips, invalid value");
    // wireguard-go removes the peer's allowed IPs at this line, including any this same
    // operation added above it.
    if (!error) peer.allowed_ips.clear();
    return error;
  }
  if (key == "allowed_ip") {
    const auto prefix = parse_allowed_ip(value);
    if (!prefix) return invalid("failed to set allowed ip " + shown(value));
    peer.allowed_ips.push_back(*prefix);
    return std::nullopt;
  }
  if (key == "protocol_version") {
    if (value != "1") return invalid("invalid protocol version");
    return std::nullopt;
  }
  return invalid("invalid UAPI peer key: " + shown(key));
}

void add_line(std::string& out, std::string_view key, std::string_view value) {
  out += key;
  out += '=';
  out += value;
  out += '\n';
}

// A key line whose value is secret: the hex text is wiped once copied.
void add_secret_line(std::string& out, std::string_view key, const dataplane::SecretKey& secret) {
  std::string hex = dataplane::to_hex(secret.span());
  add_line(out, key, hex);
  dataplane::secure_wipe(hex.data(), hex.size());
}

// Upper bounds of the answer's parts, so that one reservation holds it all and no
// reallocation leaves a copy of a key behind in freed memory.
constexpr size_t kMaxDeviceText = 256;
constexpr size_t kMaxPeerText = 512;      // every peer line but allowed_ip
constexpr size_t kMaxAllowedIpText = 64;  // "allowed_ip=" + IPv6 text + "/128\n"

}  // namespace

std::variant<UapiSet, UapiError> parse_uapi_set(std::string_view body) {
  UapiSet set;
  while (const auto line = next_line(body)) {
    if (!line->has_equals) {
      return UapiError{kUapiErrorProtocol,
                       "failed to parse line " + shown(line->text.substr(0, 64))};
    }
    const std::string_view key = line->key;
    const std::string_view value = line->value;

    std::optional<UapiError> error;
    if (key == "public_key") {
      const auto bytes = dataplane::key_from_hex(value);
      if (!bytes) return invalid("failed to get peer by public key: not 64 hex digits");
      set.peers.emplace_back();
      set.peers.back().public_key.bytes = *bytes;
    } else if (set.peers.empty()) {
      error = set_device_key(set, key, value);
    } else {
      error = set_peer_key(set.peers.back(), key, value);
    }
    if (error) return *std::move(error);
  }
  return set;
}

namespace {

template <typename T>
T number_or_throw(std::string_view v) {
  const auto n = parse_unsigned<T>(v);
  if (!n) throw std::runtime_error("uapi: bad number");
  return *n;
}

dataplane::KeyBytes key_or_throw(std::string_view v) {
  const auto k = dataplane::key_from_hex(v);
  if (!k) throw std::runtime_error("uapi: bad key");
  return *k;
}

// Calls fn(key, value) for each line of an answer, and checks its errno line is 0.
template <typename Fn>
void for_each_answer_line(std::string_view answer, Fn&& fn) {
  int err = -1;
  while (const auto line = next_line(answer)) {
    if (!line->has_equals) throw std::runtime_error("uapi: malformed line");
    if (line->key == "errno") {
      const bool negative = line->value.starts_with('-');
      err = number_or_throw<int>(line->value.substr(negative ? 1 : 0));
    } else {
      fn(line->key, line->value);
    }
  }
  if (err != 0) throw std::runtime_error("uapi: errno=" + std::to_string(err));
}

}  // namespace

UapiState parse_uapi_get(std::string_view answer) {
  UapiState s;
  UapiPeerState* peer = nullptr;
  for_each_answer_line(answer, [&](std::string_view k, std::string_view v) {
    if (k == "private_key") {
      s.private_key = dataplane::SecretKey(key_or_throw(v));
    } else if (k == "listen_port") {
      s.listen_port = number_or_throw<uint16_t>(v);
    } else if (k == "fwmark") {
      s.fwmark = number_or_throw<uint32_t>(v);
    } else if (k == "public_key") {
      peer = &s.peers.emplace_back();
      peer->public_key.bytes = key_or_throw(v);
    } else if (!peer) {
      // other interface keys are not shown
    } else if (k == "preshared_key") {
      dataplane::SecretKey psk(key_or_throw(v));
      if (!psk.is_zero()) peer->preshared_key = psk;
    } else if (k == "endpoint") {
      peer->endpoint = platform::Endpoint::parse(v);
    } else if (k == "last_handshake_time_sec") {
      peer->last_handshake_sec = number_or_throw<int64_t>(v);
    } else if (k == "last_handshake_time_nsec") {
      peer->last_handshake_nsec = number_or_throw<int64_t>(v);
    } else if (k == "rx_bytes") {
      peer->rx_bytes = number_or_throw<uint64_t>(v);
    } else if (k == "tx_bytes") {
      peer->tx_bytes = number_or_throw<uint64_t>(v);
    } else if (k == "persistent_keepalive_interval") {
      peer->persistent_keepalive = number_or_throw<uint16_t>(v);
    } else if (k == "allowed_ip") {
      if (auto p = dataplane::IpPrefix::parse(v)) peer->allowed_ips.push_back(*p);
    }
  });
  return s;
}

std::map<std::string, uint64_t> parse_uapi_counters(std::string_view answer) {
  std::map<std::string, uint64_t> out;
  for_each_answer_line(answer, [&](std::string_view k, std::string_view v) {
    out[std::string(k)] = number_or_throw<uint64_t>(v);
  });
  return out;
}

std::string format_uapi_get(const UapiState& state) {
  std::string out;
  size_t size = kMaxDeviceText;
  for (const UapiPeerState& peer : state.peers) {
    size += kMaxPeerText + peer.allowed_ips.size() * kMaxAllowedIpText;
  }
  out.reserve(size);
  if (state.private_key && !state.private_key->is_zero()) {
    add_secret_line(out, "private_key", *state.private_key);
  }
  if (state.listen_port != 0) add_line(out, "listen_port", std::to_string(state.listen_port));
  if (state.fwmark != 0) add_line(out, "fwmark", std::to_string(state.fwmark));

  const dataplane::SecretKey no_psk;
  for (const UapiPeerState& peer : state.peers) {
    add_line(out, "public_key", dataplane::to_hex(peer.public_key.bytes));
    const dataplane::SecretKey& psk = peer.preshared_key ? *peer.preshared_key : no_psk;
    add_secret_line(out, "preshared_key", psk);
    add_line(out, "protocol_version", "1");
    if (peer.endpoint) add_line(out, "endpoint", peer.endpoint->to_string());
    add_line(out, "last_handshake_time_sec", std::to_string(peer.last_handshake_sec));
    add_line(out, "last_handshake_time_nsec", std::to_string(peer.last_handshake_nsec));
    add_line(out, "tx_bytes", std::to_string(peer.tx_bytes));
    add_line(out, "rx_bytes", std::to_string(peer.rx_bytes));
    add_line(out, "persistent_keepalive_interval", std::to_string(peer.persistent_keepalive));
    for (const auto& prefix : peer.allowed_ips) add_line(out, "allowed_ip", prefix.to_string());
  }
  out += format_uapi_errno(0);
  return out;
}

std::string format_uapi_errno(int errno_value) {
  // Negate in 64 bits so that INT_MIN cannot overflow.
  const int64_t wire = errno_value > 0 ? -static_cast<int64_t>(errno_value) : errno_value;
  return "errno=" + std::to_string(wire) + "\n\n";
}

}  // namespace qvpn::core
