// qvpn's TOML config format (docs/config.md):
//   [interface]  name, private_key_file | private_key, listen_port, address, mtu, fwmark,
//                offload, threads
//   [[peer]]     public_key, endpoint, allowed_ips, persistent_keepalive,
//                preshared_key_file | preshared_key, path, relay
//   [[relay]]    name, address, stun, tls, ca_file
//   [nat]        home_relay, port_mapping
#include <toml++/toml.h>

#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

#include "core/config.h"
#include "core/config_values.h"

namespace qvpn::core {

namespace {

int line_of(const toml::source_region& r) { return static_cast<int>(r.begin.line); }

const char* type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

[[noreturn]] void wrong_type(const ConfigSite& site, const toml::node& v, const char* expected) {
  fail_at(site, std::string("expected ") + expected + ", got " + type_name(v.type()));
}

const std::string& string_of(const toml::node& v, const ConfigSite& site) {
  const auto* s = v.as_string();
  if (!s) wrong_type(site, v, "a string");
  return s->get();
}

int64_t integer_of(const toml::node& v, const ConfigSite& site, int64_t min, int64_t max) {
  const auto* i = v.as_integer();
  if (!i) wrong_type(site, v, "an integer");
  if (i->get() < min || i->get() > max) {
    fail_at(site, std::to_string(i->get()) + " is out of range " + std::to_string(min) + ".." +
                      std::to_string(max));
  }
  return i->get();
}

bool bool_of(const toml::node& v, const ConfigSite& site) {
  const auto* b = v.as_boolean();
  if (!b) wrong_type(site, v, "true or false");
  return b->get();
}

// A string or an array of strings; calls f(text, site) for each, with the element's line.
template <typename F>
void for_each_string(const toml::node& v, const ConfigSite& site, F&& f) {
  if (const auto* s = v.as_string()) {
    f(s->get(), site);
    return;
  }
  const auto* array = v.as_array();
  if (!array) wrong_type(site, v, "an array of strings");
  for (const toml::node& element : *array) {
    const ConfigSite element_site{site.file, line_of(element.source()), site.key};
    f(string_of(element, element_site), element_site);
  }
}

// One entry of a table: its value, and its key's spelling and line.
struct Entry {
  const toml::node& value;
  ConfigSite site;
};

// A table's entries in file order (toml++ keeps them sorted by name), so that the first
// error reported is the first in the file.
std::vector<Entry> in_file_order(const toml::table& t, const std::filesystem::path& file) {
  std::vector<std::pair<const toml::key*, const toml::node*>> sorted;
  for (auto&& [k, v] : t) sorted.emplace_back(&k, &v);
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    const auto& pa = a.first->source().begin;
    const auto& pb = b.first->source().begin;
    return pa.line != pb.line ? pa.line < pb.line : pa.column < pb.column;
  });
  std::vector<Entry> entries;
  entries.reserve(sorted.size());
  for (const auto& [k, v] : sorted) {
    entries.push_back(Entry{*v, ConfigSite{file, line_of(k->source()), k->str()}});
  }
  return entries;
}

// private_key_file / preshared_key_file: sets `key_file` (a relative path is taken from the
// config's directory) and returns the key it holds.
dataplane::SecretKey key_file_secret(const toml::node& v, const ConfigSite& site,
                                     const ConfigParseOptions& options,
                                     std::filesystem::path& key_file) {
  const std::string& text = string_of(v, site);
  if (text.empty()) fail_at(site, "empty path");
  const std::filesystem::path p(text);
  key_file = p.is_absolute() ? p : site.file.parent_path() / p;
  return read_key_file_value(key_file, site, options);
}

// private_key / preshared_key written in the config itself.
dataplane::SecretKey inline_secret(const toml::node& v, const ConfigSite& site,
                                   const ConfigParseOptions& options) {
  check_inline_secret_allowed(site, options);
  return parse_secret_key_value(string_of(v, site), site);
}

// A secret comes from `name`_file or from `name`; the lines are 0 for keys not given.
void check_one_secret_source(const std::filesystem::path& file, std::string_view name,
                             int key_file_line, int inline_key_line) {
  if (key_file_line && inline_key_line) {
    const std::string n(name);
    fail_at({file, std::max(key_file_line, inline_key_line), name},
            "give either " + n + "_file or " + n + ", not both");
  }
}

// toml++ keeps its own copies of inline secrets; overwrite them before the table is freed.
class WipeTomlSecrets {
 public:
  explicit WipeTomlSecrets(toml::table& root) : root_(root) {}
  WipeTomlSecrets(const WipeTomlSecrets&) = delete;
  WipeTomlSecrets& operator=(const WipeTomlSecrets&) = delete;
  ~WipeTomlSecrets() {
    if (auto* t = root_["interface"].as_table()) wipe(*t, "private_key");
    if (auto* peers = root_["peer"].as_array()) {
      for (auto& p : *peers) {
        if (auto* t = p.as_table()) wipe(*t, "preshared_key");
      }
    }
  }

 private:
  static void wipe(toml::table& t, std::string_view key) {
    if (auto* s = t[key].as_string()) dataplane::secure_wipe(s->get().data(), s->get().size());
  }
  toml::table& root_;
};

void parse_interface(const toml::table& table, const std::filesystem::path& file,
                     const ConfigParseOptions& options, Config& config, ConfigLayout& layout) {
  InterfaceConfig& iface = config.interface;
  int key_file_line = 0;
  int inline_key_line = 0;
  for (const auto& [v, site] : in_file_order(table, file)) {
    const std::string_view key = site.key;
    if (key == "name") {
      iface.name = parse_interface_name_value(string_of(v, site), site);
    } else if (key == "private_key_file") {
      iface.private_key = key_file_secret(v, site, options, iface.private_key_file);
      key_file_line = site.line;
    } else if (key == "private_key") {
      iface.private_key = inline_secret(v, site, options);
      inline_key_line = site.line;
    } else if (key == "listen_port") {
      const auto port = integer_of(v, site, 0, 65535);
      // 0 asks for a free port, as when the key is absent.
      if (port != 0) iface.listen_port = static_cast<uint16_t>(port);
    } else if (key == "address") {
      for_each_string(v, site, [&](const std::string& text, const ConfigSite& s) {
        iface.addresses.push_back(parse_address_value(text, s));
      });
    } else if (key == "mtu") {
      iface.mtu = static_cast<uint32_t>(integer_of(v, site, kMinMtu, kMaxMtu));
      layout.mtu_line = site.line;
    } else if (key == "fwmark") {
      iface.fwmark =
          static_cast<uint32_t>(integer_of(v, site, 0, std::numeric_limits<uint32_t>::max()));
    } else if (key == "offload") {
      iface.offload = bool_of(v, site);
    } else if (key == "threads") {
      iface.threads = static_cast<unsigned>(integer_of(v, site, 0, 256));
    } else {
      fail_at(site,
              "unknown key in [interface] (known: name, private_key_file, private_key, "
              "listen_port, address, mtu, fwmark, offload, threads)");
    }
  }
  check_one_secret_source(file, "private_key", key_file_line, inline_key_line);
}

PeerConfig parse_peer(const toml::table& table, int peer_line, const std::filesystem::path& file,
                      const ConfigParseOptions& options, int& peer_relay_line) {
  PeerConfig peer;
  bool has_public_key = false;
  int key_file_line = 0;
  int inline_key_line = 0;
  for (const auto& [v, site] : in_file_order(table, file)) {
    const std::string_view key = site.key;
    if (key == "public_key") {
      peer.public_key = parse_public_key_value(string_of(v, site), site);
      has_public_key = true;
    } else if (key == "endpoint") {
      peer.endpoint = parse_endpoint_value(string_of(v, site), site);
    } else if (key == "allowed_ips") {
      for_each_string(v, site, [&](const std::string& text, const ConfigSite& s) {
        peer.allowed_ips.push_back(parse_prefix_value(text, s));
      });
    } else if (key == "persistent_keepalive") {
      peer.persistent_keepalive = static_cast<uint16_t>(integer_of(v, site, 0, 65535));
    } else if (key == "preshared_key_file") {
      peer.preshared_key = key_file_secret(v, site, options, peer.preshared_key_file);
      key_file_line = site.line;
    } else if (key == "preshared_key") {
      peer.preshared_key = inline_secret(v, site, options);
      inline_key_line = site.line;
    } else if (key == "path") {
      const std::string& text = string_of(v, site);
      if (text == "auto") {
        peer.path = PathPolicy::kAuto;
      } else if (text == "direct") {
        peer.path = PathPolicy::kDirect;
      } else if (text == "relay") {
        peer.path = PathPolicy::kRelay;
      } else {
        fail_at(site, "'" + text + "' is not a path policy (auto, direct or relay)");
      }
    } else if (key == "relay") {
      peer.relay = string_of(v, site);
      peer_relay_line = site.line;
    } else {
      fail_at(site,
              "unknown key in [[peer]] (known: public_key, endpoint, allowed_ips, "
              "persistent_keepalive, preshared_key_file, preshared_key, path, relay)");
    }
  }
  if (!has_public_key) fail_at({file, peer_line, "public_key"}, "missing: every peer needs one");
  check_one_secret_source(file, "preshared_key", key_file_line, inline_key_line);
  return peer;
}

RelayConfig parse_relay(const toml::table& table, int relay_line, const std::filesystem::path& file) {
  RelayConfig relay;
  for (const auto& [v, site] : in_file_order(table, file)) {
    const std::string_view key = site.key;
    if (key == "name") {
      relay.name = string_of(v, site);
      if (relay.name.empty()) fail_at(site, "empty name");
    } else if (key == "address") {
      relay.address = parse_endpoint_value(string_of(v, site), site);
    } else if (key == "stun") {
      for_each_string(v, site, [&](const std::string& text, const ConfigSite& s) {
        relay.stun.push_back(parse_endpoint_value(text, s));
      });
    } else if (key == "tls") {
      relay.tls = bool_of(v, site);
    } else if (key == "ca_file") {
      const std::filesystem::path p(string_of(v, site));
      relay.ca_file = p.is_absolute() ? p : file.parent_path() / p;
    } else {
      fail_at(site, "unknown key in [[relay]] (known: name, address, stun, tls, ca_file)");
    }
  }
  if (relay.address.empty()) fail_at({file, relay_line, "address"}, "missing: every relay needs one");
  if (relay.stun.empty()) {
    // The relay answers STUN on its own host, port 3478.
    const std::string_view a = relay.address;
    relay.stun.push_back(std::string(a.substr(0, a.rfind(':'))) + ":3478");
  }
  return relay;
}

void parse_nat(const toml::table& table, const std::filesystem::path& file, NatConfig& nat,
               int& home_line) {
  for (const auto& [v, site] : in_file_order(table, file)) {
    const std::string_view key = site.key;
    if (key == "home_relay") {
      nat.home_relay = string_of(v, site);
      home_line = site.line;
    } else if (key == "port_mapping") {
      nat.port_mapping = bool_of(v, site);
    } else {
      fail_at(site, "unknown key in [nat] (known: home_relay, port_mapping)");
    }
  }
}

// Relay names: present, unique, and every reference to one names one that exists.
void check_relays(const Config& config, const std::filesystem::path& file,
                  const std::vector<int>& relay_lines, int home_line,
                  const std::vector<int>& peer_lines, const std::vector<int>& peer_relay_lines) {
  const NatConfig& nat = config.nat;
  for (size_t i = 0; i < nat.relays.size(); ++i) {
    const std::string& name = nat.relays[i].name;
    if (name.empty()) fail_at({file, relay_lines[i], "name"}, "missing: every relay needs one");
    for (size_t j = 0; j < i; ++j) {
      if (nat.relays[j].name == name) {
        fail_at({file, relay_lines[i], "name"}, "'" + name + "' names two relays");
      }
    }
  }
  if (!nat.home_relay.empty() && !nat.find_relay(nat.home_relay)) {
    fail_at({file, home_line, "home_relay"}, "no [[relay]] is named '" + nat.home_relay + "'");
  }
  for (size_t i = 0; i < config.peers.size(); ++i) {
    const PeerConfig& p = config.peers[i];
    if (!p.relay.empty() && !nat.find_relay(p.relay)) {
      fail_at({file, peer_relay_lines[i], "relay"}, "no [[relay]] is named '" + p.relay + "'");
    }
    if (p.path == PathPolicy::kRelay && !nat.enabled()) {
      fail_at({file, peer_lines[i], "path"}, "path = \"relay\" needs a [[relay]]");
    }
  }
}

}  // namespace

Config parse_toml(std::string_view text, const std::filesystem::path& file,
                  const ConfigParseOptions& options) {
  toml::table root;
  try {
    root = toml::parse(text, file.string());
  } catch (const toml::parse_error& e) {
    throw ConfigError(file, line_of(e.source()), "",
                      "not valid TOML: " + std::string(e.description()));
  }
  WipeTomlSecrets wipe(root);

  Config config;
  ConfigLayout layout{.private_key_name = "private_key",
                      .public_key_name = "public_key",
                      .mtu_name = "mtu",
                      .allowed_ips_name = "allowed_ips"};
  bool has_interface = false;
  std::vector<int> relay_lines;
  std::vector<int> peer_relay_lines;
  int home_line = 0;
  for (const auto& [v, site] : in_file_order(root, file)) {
    const std::string_view key = site.key;
    if (key == "interface") {
      const auto* table = v.as_table();
      if (!table) wrong_type(site, v, "a table ([interface])");
      layout.interface_line = line_of(v.source());
      parse_interface(*table, file, options, config, layout);
      has_interface = true;
    } else if (key == "peer") {
      const auto* peers = v.as_array();
      if (!peers) fail_at(site, "write each peer as [[peer]] (an array of tables)");
      for (const toml::node& p : *peers) {
        const auto* table = p.as_table();
        const ConfigSite peer_site{file, line_of(p.source()), key};
        if (!table) wrong_type(peer_site, p, "a table");
        int relay_line = 0;
        config.peers.push_back(parse_peer(*table, peer_site.line, file, options, relay_line));
        layout.peer_lines.push_back(peer_site.line);
        peer_relay_lines.push_back(relay_line);
      }
    } else if (key == "relay") {
      const auto* relays = v.as_array();
      if (!relays) fail_at(site, "write each relay as [[relay]] (an array of tables)");
      for (const toml::node& r : *relays) {
        const auto* table = r.as_table();
        const ConfigSite relay_site{file, line_of(r.source()), key};
        if (!table) wrong_type(relay_site, r, "a table");
        config.nat.relays.push_back(parse_relay(*table, relay_site.line, file));
        relay_lines.push_back(relay_site.line);
      }
    } else if (key == "nat") {
      const auto* table = v.as_table();
      if (!table) wrong_type(site, v, "a table ([nat])");
      parse_nat(*table, file, config.nat, home_line);
    } else {
      fail_at(site, "unknown top-level key (known: [interface], [[peer]], [[relay]], [nat])");
    }
  }
  if (!has_interface) throw ConfigError(file, 0, "interface", "missing: add an [interface] table");
  check_config(config, file, layout);
  check_relays(config, file, relay_lines, home_line, layout.peer_lines, peer_relay_lines);
  return config;
}

}  // namespace qvpn::core
