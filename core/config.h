#pragma once
// The node's configuration: the model, its two file formats and their loaders.
//
// Two formats describe the same model (docs/config.md):
//   - qvpn's own TOML ([interface] and [[peer]] tables, keys in snake_case), whose secrets
//     normally live in separate 0600 key files;
//   - wg-quick(8) .conf files ([Interface]/[Peer], keys as wg(8) spells them), so that
//     existing WireGuard configs work unchanged.
// A loader either returns a complete, validated Config or throws ConfigError: nothing is
// ever half-applied. Every error names the file, the line and the key, and says how to fix it.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/ip_prefix.h"
#include "dataplane/keys.h"
#include "nat/peer_path.h"
#include "platform/endpoint.h"

namespace qvpn::core {

inline constexpr uint16_t kDefaultListenPort = 51820;
inline constexpr uint32_t kDefaultMtu = 1420;
// Smallest MTU accepted at all (RFC 791), and smallest when the interface has an IPv6
// address (RFC 8200).
inline constexpr uint32_t kMinMtu = 576;
inline constexpr uint32_t kMinMtuIpv6 = 1280;
inline constexpr uint32_t kMaxMtu = 65535;
// Linux IFNAMSIZ - 1.
inline constexpr size_t kMaxInterfaceNameLength = 15;

using platform::InterfaceAddress;

using nat::PathPolicy;

struct PeerConfig {
  dataplane::PublicKey public_key;
  std::optional<dataplane::SecretKey> preshared_key;
  // Where the preshared key was read from; empty when it was inline or absent.
  std::filesystem::path preshared_key_file;
  // "host:port" exactly as written ("vpn.example.com:51820", "[2001:db8::1]:51820"); the
  // syntax is checked, the name is resolved later (platform::Endpoint::resolve).
  std::optional<std::string> endpoint;
  std::vector<dataplane::IpPrefix> allowed_ips;
  uint16_t persistent_keepalive = 0;  // seconds, 0 = off
  PathPolicy path = PathPolicy::kAuto;
  std::string relay;  // the peer's home relay by name; "" = this node's home relay
};

// A relay (`qvpn relay serve`) this node may use. TOML only.
struct RelayConfig {
  std::string name;
  std::string address;  // "host:port" of its TCP (or TLS) listener
  std::vector<std::string> stun;  // "host:port" STUN servers; default: the relay's host, 3478
  bool tls = false;
  std::filesystem::path ca_file;  // TLS: trust these CAs instead of the system's
};

// NAT traversal (docs/nat-traversal.md). It runs when at least one relay is configured.
struct NatConfig {
  std::vector<RelayConfig> relays;
  std::string home_relay;  // a relay's name; "" = the first relay
  bool port_mapping = true;  // NAT-PMP, PCP and UPnP for the listen port

  bool enabled() const { return !relays.empty(); }
  const RelayConfig* find_relay(std::string_view name) const {
    for (const auto& r : relays) {
      if (r.name == name) return &r;
    }
    return nullptr;
  }
  const RelayConfig& home() const { return home_relay.empty() ? relays.front() : *find_relay(home_relay); }
};

struct InterfaceConfig {
  std::string name;  // "" = first free qvpnN
  dataplane::SecretKey private_key;
  // Where the private key was read from (resolved against the config's directory); empty
  // when the key was written inline.
  std::filesystem::path private_key_file;
  std::optional<uint16_t> listen_port;  // unset = choose a free port
  std::vector<InterfaceAddress> addresses;
  uint32_t mtu = kDefaultMtu;
  uint32_t fwmark = 0;  // 0 = off
  // The data path (core/node.h DataPathOptions): kernel offloads, and cores for crypto
  // (0 = half the cores). TOML only; wg-quick files take the defaults.
  bool offload = true;
  unsigned threads = 0;
};

struct Config {
  InterfaceConfig interface;
  std::vector<PeerConfig> peers;
  NatConfig nat;
  // Things accepted but not acted on, each "FILE:LINE: KEY: why" (wg-quick's DNS, Table,
  // PreUp/PostUp/PreDown/PostDown, SaveConfig; an allowed IP claimed by two peers).
  std::vector<std::string> warnings;
};

// A configuration that cannot be used. what() is "FILE:LINE: KEY: what is wrong"; the line
// part is left out when line() is 0 (not tied to a line), the key part when key() is "", and
// the file part when file() is empty (a config not read from a file).
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::filesystem::path file, int line, std::string key, const std::string& problem);

  const std::filesystem::path& file() const { return file_; }
  int line() const { return line_; }
  const std::string& key() const { return key_; }

 private:
  std::filesystem::path file_;
  int line_;
  std::string key_;
};

// How the parse_* functions treat secrets. The defaults suit a config given as a string.
struct ConfigParseOptions {
  // False when the config file is readable by group or others: inline private or
  // preshared keys are then refused with the chmod fix.
  bool inline_secrets_allowed = true;
  // Reads a key file (private_key_file, preshared_key_file). Defaults to
  // platform::read_secret_file, which refuses files readable by group or others. Must throw
  // a std::runtime_error on failure; its message is wrapped into a ConfigError.
  std::function<std::string(const std::filesystem::path&)> read_key_file;
};

// Loads and validates a config file. The format is wg-quick's when the name ends in ".conf"
// or the first section header is exactly "[Interface]"; TOML otherwise. Key files named in
// a TOML config are read relative to the config's directory; inline secrets require the
// config file itself to be 0600. Throws ConfigError.
Config load_config(const std::filesystem::path& file);

// Parses qvpn's TOML format from memory. `file` names the text in errors and is the base of
// relative key-file paths; it is never opened. Throws ConfigError.
Config parse_toml(std::string_view text, const std::filesystem::path& file,
                  const ConfigParseOptions& options = {});

// Parses a wg-quick(8) .conf from memory. The interface name is the file's stem when that is
// a valid interface name (wg0.conf -> "wg0"), as wg-quick does; "" otherwise. Throws
// ConfigError.
Config parse_wg_quick(std::string_view text, const std::filesystem::path& file,
                      const ConfigParseOptions& options = {});

// The commented TOML config that the first `qvpn up` writes: the given key file, listen
// port 51820, no address and a commented example peer. Parses with parse_toml.
std::string default_config_toml(const std::filesystem::path& key_file);

// True for a valid Linux interface name (1..15 of [A-Za-z0-9_=+.-], as wg-quick requires).
bool is_valid_interface_name(std::string_view name);

}  // namespace qvpn::core
