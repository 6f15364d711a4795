#include "core/config.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/config_values.h"
#include "platform/secure_file.h"

namespace qvpn::core {

namespace {

// The config text may hold inline secrets: wipe it however the parse ends.
class WipeOnExit {
 public:
  explicit WipeOnExit(std::string& s) : s_(s) {}
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;
  ~WipeOnExit() { dataplane::secure_wipe(s_.data(), s_.size()); }

 private:
  std::string& s_;
};

// wg-quick when named *.conf or when the first thing after comments is "[Interface]"
// (spelled as wg-quick writes it; qvpn's TOML uses "[interface]").
bool looks_like_wg_quick(const std::filesystem::path& file, std::string_view text) {
  if (file.extension() == ".conf") return true;
  text = without_bom(text);
  while (!text.empty()) {
    std::string_view line = next_line(text);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty() || line.front() == '#' || line == "\r") continue;
    return line.starts_with("[Interface]");
  }
  return false;
}

// A TOML basic string holding `s`.
std::string toml_quote(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// The config the first `qvpn up` writes; default_config_toml fills in the @NAMES@.
constexpr std::string_view kDefaultConfigTemplate =
    R"(# qvpn node configuration (reference: docs/config.md).
# Apply changes with `qvpn down && qvpn up`.

[interface]
# Interface name; unset means the first free qvpnN.
# name = "qvpn0"
# This node's private key: one base64 line, file mode 0600. Relative paths are
# relative to this file's directory.
private_key_file = @KEY_FILE@
# UDP port for WireGuard, STUN and disco traffic.
listen_port = @LISTEN_PORT@
# Addresses of this node inside the VPN, with the on-link prefix length.
# address = ["10.0.0.1/24", "fd00::1/64"]
# mtu = @MTU@
# fwmark = 0

# One [[peer]] table per peer, for example:
#
# [[peer]]
# public_key = "<the peer's base64 public key, from `qvpn show` or `wg pubkey`>"
# endpoint = "vpn.example.com:51820"     # or "[2001:db8::1]:51820"
# allowed_ips = ["10.0.0.2/32", "fd00::2/128"]
# persistent_keepalive = 25               # seconds; for a node behind NAT
# preshared_key_file = "peer.psk"         # optional, mode 0600
)";

// Replaces the one `placeholder` in `text` with `value`.
void fill_in(std::string& text, std::string_view placeholder, std::string_view value) {
  text.replace(text.find(placeholder), placeholder.size(), value);
}

}  // namespace

ConfigError::ConfigError(std::filesystem::path file, int line, std::string key,
                         const std::string& problem)
    : std::runtime_error(format_config_message(file, line, key, problem)),
      file_(std::move(file)),
      line_(line),
      key_(std::move(key)) {}


bool is_valid_interface_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxInterfaceNameLength) return false;
  // "." and ".." would name directories under /sys/class/net.
  if (name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '=' || c == '+' || c == '.' || c == '-';
  });
}

Config load_config(const std::filesystem::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    throw ConfigError(file, 0, "", std::string("cannot read the config: ") + std::strerror(errno));
  }
  std::string text;
  WipeOnExit wipe(text);
  try {
    text = platform::read_text_file(file);
  } catch (const std::exception& e) {
    // FileError's message starts with the path, which ConfigError adds itself.
    std::string_view detail = e.what();
    const std::string prefix = file.string() + ": ";
    if (detail.starts_with(prefix)) detail.remove_prefix(prefix.size());
    throw ConfigError(file, 0, "", "cannot read the config: " + std::string(detail));
  }

  ConfigParseOptions options;
  // Inline secrets are fine only where a key file would be: in a file only its owner reads.
  options.inline_secrets_allowed = (st.st_mode & (S_IRWXG | S_IRWXO)) == 0;
  if (looks_like_wg_quick(file, text)) return parse_wg_quick(text, file, options);
  return parse_toml(text, file, options);
}

std::string default_config_toml(const std::filesystem::path& key_file) {
  std::string out(kDefaultConfigTemplate);
  // Last first, so that no filled-in value (a path may hold anything) is searched.
  fill_in(out, "@MTU@", std::to_string(kDefaultMtu));
  fill_in(out, "@LISTEN_PORT@", std::to_string(kDefaultListenPort));
  fill_in(out, "@KEY_FILE@", toml_quote(key_file.string()));
  return out;
}

}  // namespace qvpn::core
