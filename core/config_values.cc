#include "core/config_values.h"

#include <algorithm>
#include <charconv>
#include <map>

#include "platform/secure_file.h"

namespace qvpn::core {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool is_hostname_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

// Quotes user text for an error message, cut short so a huge value cannot flood a log.
std::string quoted(std::string_view text) {
  constexpr size_t kMaxShown = 80;
  std::string out = "\"";
  for (char c : text.substr(0, kMaxShown)) {
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  if (text.size() > kMaxShown) out += "...";
  return out + "\"";
}

// The key in `bytes`, which are wiped: the SecretKey is then the only copy.
dataplane::SecretKey take_secret(dataplane::KeyBytes& bytes) {
  dataplane::SecretKey key{std::span<const uint8_t, dataplane::kKeySize>(bytes)};
  dataplane::secure_wipe(bytes.data(), bytes.size());
  return key;
}

}  // namespace

std::string format_config_message(const std::filesystem::path& file, int line, std::string_view key,
                                  std::string_view problem) {
  // Callers outside a file (a config built in memory) pass an empty path: no "FILE:" then.
  std::string out = file.string();
  if (line > 0) out += (out.empty() ? "line " : ":") + std::to_string(line);
  if (!out.empty()) out += ": ";
  if (!key.empty()) {
    out += key;
    out += ": ";
  }
  out += problem;
  return out;
}

void fail_at(const ConfigSite& site, const std::string& problem) {
  throw ConfigError(site.file, site.line, std::string(site.key), problem);
}

std::string_view without_bom(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  return text;
}

std::string_view next_line(std::string_view& text) {
  const size_t eol = text.find('\n');
  const std::string_view line = text.substr(0, eol);
  text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
  return line;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::optional<uint64_t> parse_decimal(std::string_view text, uint64_t max) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > max) return std::nullopt;
  return value;
}

dataplane::PublicKey parse_public_key_value(std::string_view text, const ConfigSite& site) {
  const auto bytes = dataplane::key_from_base64(text);
  if (!bytes) {
    fail_at(site, "not a base64 public key: " + quoted(text) +
                      " (expected 44 characters ending in '=', as `wg pubkey` prints)");
  }
  dataplane::PublicKey key{*bytes};
  if (key.is_zero()) fail_at(site, "the all-zero public key is not a peer");
  return key;
}

dataplane::SecretKey parse_secret_key_value(std::string_view text, const ConfigSite& site) {
  auto bytes = dataplane::key_from_base64(text);
  if (!bytes) {
    // The text may be a mistyped secret: never echo it.
    fail_at(site,
            "not a base64 key (expected 44 characters ending in '=', as `wg genkey` "
            "prints)");
  }
  return take_secret(*bytes);
}

dataplane::SecretKey read_key_file_value(const std::filesystem::path& key_file,
                                         const ConfigSite& site,
                                         const ConfigParseOptions& options) {
  std::string text;
  try {
    text = options.read_key_file ? options.read_key_file(key_file)
                                 : platform::read_secret_file(key_file);
  } catch (const std::exception& e) {
    // FileError names the path already; a custom reader may not.
    const std::string detail = e.what();
    std::string problem = detail.find(key_file.string()) != std::string::npos
                              ? detail
                              : "cannot use key file " + key_file.string() + ": " + detail;
    if (problem.find("chmod") == std::string::npos) {
      problem +=
          " (a key file holds one base64 key as `wg genkey` writes it; create it with "
          "`(umask 077; wg genkey > " +
          key_file.string() + ")`)";
    }
    fail_at(site, problem);
  }
  auto bytes = dataplane::key_from_base64(trim(text));
  dataplane::secure_wipe(text.data(), text.size());
  if (!bytes) {
    fail_at(site, "key file " + key_file.string() +
                      " does not hold a base64 key (write one with `(umask 077; wg genkey > " +
                      key_file.string() + ")`)");
  }
  return take_secret(*bytes);
}

void check_inline_secret_allowed(const ConfigSite& site, const ConfigParseOptions& options) {
  if (options.inline_secrets_allowed) return;
  fail_at(site, "a secret key is written inline but " + site.file.string() +
                    " is readable by group or others; run `chmod 600 " + site.file.string() +
                    "` (or move the key to a 0600 key file)");
}

dataplane::IpPrefix parse_prefix_value(std::string_view text, const ConfigSite& site) {
  const auto prefix = dataplane::IpPrefix::parse(text);
  if (!prefix) {
    fail_at(site,
            "not an IP prefix: " + quoted(text) + " (expected e.g. 10.0.0.0/24 or fd00::/64)");
  }
  return *prefix;
}

InterfaceAddress parse_address_value(std::string_view text, const ConfigSite& site) {
  const auto address = InterfaceAddress::parse(text);
  if (!address) {
    fail_at(site, "not an interface address: " + quoted(text) +
                      " (expected e.g. 10.0.0.1/24 or fd00::1/64)");
  }
  return *address;
}

std::string parse_endpoint_value(std::string_view text, const ConfigSite& site) {
  const auto bad = [&](const std::string& why) {
    fail_at(site, "bad endpoint " + quoted(text) + ": " + why +
                      " (expected host:port, 192.0.2.1:51820 or [2001:db8::1]:51820)");
  };
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) bad("missing ']'");
    std::string_view host = text.substr(1, close - 1);
    // A link-local address may carry a zone: [fe80::1%eth0]:51820.
    const size_t percent = host.find('%');
    if (percent != std::string_view::npos) {
      const std::string_view zone = host.substr(percent + 1);
      if (zone.empty() || zone.size() > kMaxInterfaceNameLength ||
          !std::all_of(zone.begin(), zone.end(), is_hostname_char)) {
        bad("bad zone");
      }
      host = host.substr(0, percent);
    }
    const auto ip = platform::IpAddress::parse(host);
    if (!ip || !ip->v6) bad("brackets must hold an IPv6 address");
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') bad("missing :port");
    port_text = rest.substr(1);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) bad("missing :port");
    const std::string_view host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) bad("an IPv6 address needs brackets");
    if (host.empty() || host.size() > 253 ||
        !std::all_of(host.begin(), host.end(), is_hostname_char)) {
      bad("not a host name or IPv4 address");
    }
    port_text = text.substr(colon + 1);
  }
  const auto port = parse_decimal(port_text, 65535);
  if (!port || *port == 0) bad("port must be 1..65535");
  return std::string(text);
}

std::string parse_interface_name_value(std::string_view text, const ConfigSite& site) {
  if (!is_valid_interface_name(text)) {
    fail_at(site, "not an interface name: " + quoted(text) +
                      " (1 to 15 characters of A-Z a-z 0-9 _ = + . -)");
  }
  return std::string(text);
}

void check_config(Config& config, const std::filesystem::path& file, const ConfigLayout& layout) {
  if (config.interface.private_key.is_zero()) {
    throw ConfigError(file, layout.interface_line, std::string(layout.private_key_name),
                      "missing: the interface needs a private key");
  }

  bool has_ipv6 = false;
  for (const auto& a : config.interface.addresses) has_ipv6 |= a.ip.v6;
  if (has_ipv6 && config.interface.mtu < kMinMtuIpv6) {
    throw ConfigError(file, layout.mtu_line, std::string(layout.mtu_name),
                      std::to_string(config.interface.mtu) + " is below " +
                          std::to_string(kMinMtuIpv6) +
                          ", the minimum for an interface with an IPv6 address");
  }

  const auto peer_line = [&](size_t i) {
    return i < layout.peer_lines.size() ? layout.peer_lines[i] : 0;
  };
  std::map<dataplane::KeyBytes, size_t> seen_keys;
  std::map<std::string, size_t> seen_prefixes;
  for (size_t i = 0; i < config.peers.size(); ++i) {
    const PeerConfig& peer = config.peers[i];
    const auto [it, inserted] = seen_keys.emplace(peer.public_key.bytes, i);
    if (!inserted) {
      throw ConfigError(file, peer_line(i), std::string(layout.public_key_name),
                        "duplicate peer " + dataplane::to_base64(peer.public_key.bytes) +
                            " (first defined at line " + std::to_string(peer_line(it->second)) +
                            "); merge the two peer sections");
    }
    for (const auto& prefix : peer.allowed_ips) {
      const auto [pit, fresh] = seen_prefixes.emplace(prefix.to_string(), i);
      if (!fresh && pit->second != i) {
        config.warnings.push_back(format_config_message(
            file, peer_line(i), layout.allowed_ips_name,
            prefix.to_string() + " is also allowed for the peer at line " +
                std::to_string(peer_line(pit->second)) + "; this later peer gets it"));
        pit->second = i;
      }
    }
  }
}

}  // namespace qvpn::core
