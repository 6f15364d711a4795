// wg-quick(8) .conf files, read as wg(8) and wg-quick read them: [Interface] and [Peer]
// sections, case-insensitive section names and keys, '#' comments to the end of the line,
// comma-separated lists that may be repeated. Keys only wg-quick's shell script acts on
// (DNS, Table, hooks, SaveConfig) are accepted and reported in Config::warnings.
#include <limits>
#include <map>

#include "core/config.h"
#include "core/config_values.h"

namespace qvpn::core {

namespace {

enum class Section { kNone, kInterface, kPeer };

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Calls f(element) for each non-empty element of a comma-separated list.
template <typename F>
void for_each_listed(std::string_view value, F&& f) {
  while (true) {
    const size_t comma = value.find(',');
    const std::string_view element = trim(value.substr(0, comma));
    if (!element.empty()) f(element);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

// A number as wg(8) takes it, with "off" meaning 0; fwmark also takes 0x-hex.
uint64_t parse_number(std::string_view value, uint64_t min, uint64_t max, bool allow_off,
                      bool allow_hex, const ConfigSite& site) {
  if (allow_off && lower(value) == "off") return 0;
  std::optional<uint64_t> n;
  if (allow_hex && (value.starts_with("0x") || value.starts_with("0X"))) {
    const std::string_view digits = value.substr(2);
    uint64_t v = 0;
    bool ok = !digits.empty() && digits.size() <= 16;
    for (char c : digits) {
      const int d = (c >= '0' && c <= '9')   ? c - '0'
                    : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                    : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                             : -1;
      if (d < 0) ok = false;
      v = v * 16 + static_cast<uint64_t>(d < 0 ? 0 : d);
    }
    if (ok && v <= max) n = v;
  } else {
    n = parse_decimal(value, max);
  }
  if (!n || *n < min) {
    fail_at(site, "expected " + std::string(allow_off ? "\"off\" or " : "") + "a number " +
                      std::to_string(min) + ".." + std::to_string(max));
  }
  return *n;
}

// Parser state for one file; a section's values are checked as each line is read.
class WgQuickParser {
 public:
  WgQuickParser(const std::filesystem::path& file, const ConfigParseOptions& options)
      : file_(file),
        options_(options),
        layout_{.private_key_name = "PrivateKey",
                .public_key_name = "PublicKey",
                .mtu_name = "MTU",
                .allowed_ips_name = "AllowedIPs"} {}

  Config parse(std::string_view text) {
    text = without_bom(text);
    int line_no = 0;
    while (!text.empty()) {
      ++line_no;
      std::string_view line = next_line(text);
      line = trim(line.substr(0, line.find('#')));
      if (!line.empty()) parse_line(line, line_no);
    }
    finish_peer();
    if (interface_line_ == 0) {
      throw ConfigError(file_, 0, "", "missing [Interface] section");
    }
    if (file_.extension() == ".conf" && is_valid_interface_name(file_.stem().string())) {
      config_.interface.name = file_.stem().string();
    }
    check_config(config_, file_, layout_);
    return std::move(config_);
  }

 private:
  void parse_line(std::string_view line, int line_no) {
    if (line.front() == '[') {
      start_section(line, line_no);
      return;
    }
    const size_t eq = line.find('=');
    const std::string_view key = trim(line.substr(0, eq));
    const ConfigSite site{file_, line_no, key};
    if (eq == std::string_view::npos || key.empty()) {
      fail_at({file_, line_no, ""}, "expected \"Key = Value\" or a [Section] header");
    }
    const std::string_view value = trim(line.substr(eq + 1));
    if (section_ == Section::kNone) {
      fail_at(site, "outside any section; put it under [Interface] or [Peer]");
    }
    const std::string name = lower(key);
    // Lists may be repeated; a single value given twice is most likely a mistake.
    if (name != "address" && name != "allowedips" && name != "dns" && name != "preup" &&
        name != "postup" && name != "predown" && name != "postdown") {
      const auto [it, fresh] = seen_keys_.emplace(name, line_no);
      if (!fresh) {
        fail_at(site,
                "given twice in this section (first at line " + std::to_string(it->second) + ")");
      }
    }
    if (section_ == Section::kInterface) {
      interface_key(name, value, site);
    } else {
      peer_key(name, value, site);
    }
  }

  void start_section(std::string_view header, int line_no) {
    const std::string name = lower(header);
    finish_peer();
    seen_keys_.clear();
    if (name == "[interface]") {
      if (interface_line_ != 0) {
        fail_at({file_, line_no, ""}, "second [Interface] section (the first is at line " +
                                          std::to_string(interface_line_) + ")");
      }
      section_ = Section::kInterface;
      interface_line_ = line_no;
      layout_.interface_line = line_no;
    } else if (name == "[peer]") {
      section_ = Section::kPeer;
      peer_ = PeerConfig{};
      peer_line_ = line_no;
      peer_has_key_ = false;
    } else {
      fail_at({file_, line_no, ""}, "unknown section " + std::string(header.substr(0, 40)) +
                                        " (expected [Interface] or [Peer])");
    }
  }

  void finish_peer() {
    if (section_ != Section::kPeer) return;
    if (!peer_has_key_) fail_at({file_, peer_line_, "PublicKey"}, "missing: every peer needs one");
    config_.peers.push_back(std::move(peer_));
    layout_.peer_lines.push_back(peer_line_);
    section_ = Section::kNone;
  }

  void require_value(std::string_view value, const ConfigSite& site) {
    if (value.empty()) fail_at(site, "empty value");
  }

  // PrivateKey / PresharedKey: allowed only in a file its owner alone reads.
  dataplane::SecretKey inline_secret(std::string_view value, const ConfigSite& site) {
    check_inline_secret_allowed(site, options_);
    require_value(value, site);
    return parse_secret_key_value(value, site);
  }

  void interface_key(const std::string& name, std::string_view value, const ConfigSite& site) {
    InterfaceConfig& iface = config_.interface;
    if (name == "privatekey") {
      iface.private_key = inline_secret(value, site);
    } else if (name == "listenport") {
      require_value(value, site);
      const auto port = parse_number(value, 0, 65535, false, false, site);
      if (port != 0) iface.listen_port = static_cast<uint16_t>(port);
    } else if (name == "fwmark") {
      require_value(value, site);
      iface.fwmark = static_cast<uint32_t>(
          parse_number(value, 0, std::numeric_limits<uint32_t>::max(), true, true, site));
    } else if (name == "address") {
      for_each_listed(value, [&](std::string_view element) {
        iface.addresses.push_back(parse_address_value(element, site));
      });
    } else if (name == "mtu") {
      require_value(value, site);
      iface.mtu = static_cast<uint32_t>(parse_number(value, kMinMtu, kMaxMtu, false, false, site));
      layout_.mtu_line = site.line;
    } else if (name == "dns") {
      warn(site, "ignored: qvpn does not change the system's DNS settings");
    } else if (name == "table") {
      warn(site, "ignored: qvpn installs routes for allowed IPs in the main table");
    } else if (name == "preup" || name == "postup" || name == "predown" || name == "postdown") {
      warn(site, "ignored: qvpn does not run wg-quick hook commands");
    } else if (name == "saveconfig") {
      warn(site, "ignored: qvpn never rewrites its config file");
    } else {
      fail_at(site,
              "unknown key in [Interface] (known: PrivateKey, ListenPort, FwMark, Address, "
              "MTU, DNS, Table, PreUp, PostUp, PreDown, PostDown, SaveConfig)");
    }
  }

  void peer_key(const std::string& name, std::string_view value, const ConfigSite& site) {
    if (name == "publickey") {
      require_value(value, site);
      peer_.public_key = parse_public_key_value(value, site);
      peer_has_key_ = true;
    } else if (name == "presharedkey") {
      peer_.preshared_key = inline_secret(value, site);
    } else if (name == "allowedips") {
      for_each_listed(value, [&](std::string_view element) {
        peer_.allowed_ips.push_back(parse_prefix_value(element, site));
      });
    } else if (name == "endpoint") {
      require_value(value, site);
      peer_.endpoint = parse_endpoint_value(value, site);
    } else if (name == "persistentkeepalive") {
      require_value(value, site);
      peer_.persistent_keepalive =
          static_cast<uint16_t>(parse_number(value, 0, 65535, true, false, site));
    } else {
      fail_at(site,
              "unknown key in [Peer] (known: PublicKey, PresharedKey, AllowedIPs, "
              "Endpoint, PersistentKeepalive)");
    }
  }

  void warn(const ConfigSite& site, std::string_view why) {
    config_.warnings.push_back(format_config_message(file_, site.line, site.key, why));
  }

  const std::filesystem::path& file_;
  const ConfigParseOptions& options_;
  Config config_;
  ConfigLayout layout_;
  Section section_ = Section::kNone;
  std::map<std::string, int> seen_keys_;  // lowercased key -> line, in the current section
  int interface_line_ = 0;
  PeerConfig peer_;
  int peer_line_ = 0;
  bool peer_has_key_ = false;
};

}  // namespace

Config parse_wg_quick(std::string_view text, const std::filesystem::path& file,
                      const ConfigParseOptions& options) {
  return WgQuickParser(file, options).parse(text);
}

}  // namespace qvpn::core
