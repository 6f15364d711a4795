#pragma once
// Internal to the config parsers (config_toml.cc, config_wgquick.cc): the syntax of single
// values and the checks that need the whole config. Both formats share them so that a
// value means the same in each and errors read alike.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"

namespace qvpn::core {

// Where a value came from, for errors: FILE:LINE: KEY.
struct ConfigSite {
  const std::filesystem::path& file;
  int line = 0;
  std::string_view key;
};

// Throws ConfigError at `site`.
[[noreturn]] void fail_at(const ConfigSite& site, const std::string& problem);

// `text` without a leading UTF-8 byte-order mark, which some editors write.
std::string_view without_bom(std::string_view text);
// Removes the first line from `text` and returns it without its '\n' (the last line may
// have none).
std::string_view next_line(std::string_view& text);
// `s` without leading and trailing white space.
std::string_view trim(std::string_view s);

// Decimal digits only (no sign, no space), at most `max`.
std::optional<uint64_t> parse_decimal(std::string_view text, uint64_t max);

// A base64 public key, as `wg pubkey` prints it.
dataplane::PublicKey parse_public_key_value(std::string_view text, const ConfigSite& site);
// A base64 secret key (private or preshared). The text is never echoed into errors.
dataplane::SecretKey parse_secret_key_value(std::string_view text, const ConfigSite& site);
// Reads a key file (one base64 key, surrounding whitespace ignored) with
// options.read_key_file or platform::read_secret_file; the file's text is wiped afterwards.
dataplane::SecretKey read_key_file_value(const std::filesystem::path& key_file,
                                         const ConfigSite& site, const ConfigParseOptions& options);
// Throws the chmod fix when options forbid inline secrets.
void check_inline_secret_allowed(const ConfigSite& site, const ConfigParseOptions& options);

// An allowed-IPs entry: "10.0.0.0/24", "fd00::/64" or a bare address (/32, /128).
dataplane::IpPrefix parse_prefix_value(std::string_view text, const ConfigSite& site);
// An interface address: "10.0.0.1/24", host part kept.
InterfaceAddress parse_address_value(std::string_view text, const ConfigSite& site);
// Checks "host:port" / "[v6]:port" syntax without resolving; returns the text.
std::string parse_endpoint_value(std::string_view text, const ConfigSite& site);
// An interface name (is_valid_interface_name).
std::string parse_interface_name_value(std::string_view text, const ConfigSite& site);

// Lines and key spellings the whole-config checks cite; peers parallel Config::peers.
struct ConfigLayout {
  int interface_line = 0;
  int mtu_line = 0;
  std::vector<int> peer_lines{};
  std::string_view private_key_name;  // "private_key" / "PrivateKey"
  std::string_view public_key_name;   // "public_key" / "PublicKey"
  std::string_view mtu_name;          // "mtu" / "MTU"
  std::string_view allowed_ips_name;  // "allowed_ips" / "AllowedIPs"
};

// Checks what single values cannot show: a private key is present, no peer appears twice,
// the MTU suits the addresses. Adds a warning for an allowed IP claimed by two peers (the
// last one wins, as in wg(8)). Throws ConfigError.
void check_config(Config& config, const std::filesystem::path& file, const ConfigLayout& layout);

// "FILE:LINE: KEY: problem", leaving out a zero line and an empty key (ConfigError::what).
std::string format_config_message(const std::filesystem::path& file, int line, std::string_view key,
                                  std::string_view problem);

}  // namespace qvpn::core
