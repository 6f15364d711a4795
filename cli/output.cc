#include "cli/output.h"

#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "dataplane/x25519.h"

namespace qvpn::cli {
namespace {

std::string public_key_text(const core::UapiState& s) {
  if (!s.private_key) return "(none)";
  return dataplane::to_base64(dataplane::public_key_of(*s.private_key).bytes);
}

std::string ago(int64_t seconds) {
  if (seconds < 60) return fmt::format("{} seconds ago", seconds);
  if (seconds < 3600) return fmt::format("{} minutes, {} seconds ago", seconds / 60, seconds % 60);
  return fmt::format("{} hours, {} minutes ago", seconds / 3600, seconds / 60 % 60);
}

std::string bytes_text(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = double(b);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", b) : fmt::format("{:.2f} {}", v, units[u]);
}

const nlohmann::json* path_of(const InterfaceStatus& s, const dataplane::PublicKey& key) {
  if (!s.paths.is_object()) return nullptr;
  const std::string k = dataplane::to_base64(key.bytes);
  for (const auto& p : s.paths["peers"]) {
    if (p["public_key"] == k) return &p["path"];
  }
  return nullptr;
}

const nlohmann::json* home_relay(const InterfaceStatus& s) {
  if (!s.paths.is_object()) return nullptr;
  for (const auto& r : s.paths["relays"]) {
    if (r["home"] == true) return &r;
  }
  return nullptr;
}

std::string path_text(const nlohmann::json& p) {
  std::string out;
  if (p["type"] == "direct") {
    out = "direct " + p["endpoint"].get<std::string>();
    if (p["rtt_ms"].is_number()) out += fmt::format(" (rtt {:.2f} ms)", p["rtt_ms"].get<double>());
  } else if (p["type"] == "relay") {
    out = "relay \"" + p["relay"].get<std::string>() + "\"";
  } else {
    out = "none";
  }
  if (p.contains("reason")) out += " — " + p["reason"].get<std::string>();
  return out;
}

}  // namespace

std::string status_text(const InterfaceStatus& s, int64_t now_unix) {
  std::string out = fmt::format("interface: {}\n  public key: {}\n  listening port: {}\n",
                                s.name, public_key_text(s.state), s.state.listen_port);
  if (s.state.fwmark) out += fmt::format("  fwmark: 0x{:x}\n", s.state.fwmark);
  if (const auto* r = home_relay(s)) {
    out += fmt::format("  relay: {} {}, {}", (*r)["name"].get<std::string>(),
                       (*r)["address"].get<std::string>(),
                       (*r)["connected"] == true ? "connected" : "not connected");
    if ((*r)["latency_ms"].is_number()) out += fmt::format(", {:.2f} ms", (*r)["latency_ms"].get<double>());
    out += "\n";
  }
  for (const auto& p : s.state.peers) {
    out += fmt::format("\npeer: {}\n", dataplane::to_base64(p.public_key.bytes));
    if (p.endpoint) out += fmt::format("  endpoint: {}\n", p.endpoint->to_string());
    if (const auto* path = path_of(s, p.public_key)) out += "  path: " + path_text(*path) + "\n";
    std::string ips;
    for (const auto& a : p.allowed_ips) ips += (ips.empty() ? "" : ", ") + a.to_string();
    out += fmt::format("  allowed ips: {}\n", ips.empty() ? "(none)" : ips);
    if (p.last_handshake_sec) {
      out += fmt::format("  latest handshake: {}\n", ago(now_unix - p.last_handshake_sec));
    }
    if (p.rx_bytes || p.tx_bytes) {
      out += fmt::format("  transfer: {} received, {} sent\n", bytes_text(p.rx_bytes),
                         bytes_text(p.tx_bytes));
    }
    if (p.persistent_keepalive) {
      out += fmt::format("  persistent keepalive: every {} seconds\n", p.persistent_keepalive);
    }
  }
  return out;
}

std::string status_json(const std::vector<InterfaceStatus>& all, int64_t now_unix) {
  nlohmann::json interfaces = nlohmann::json::array();
  for (const auto& s : all) {
    nlohmann::json peers = nlohmann::json::array();
    for (const auto& p : s.state.peers) {
      nlohmann::json ips = nlohmann::json::array();
      for (const auto& a : p.allowed_ips) ips.push_back(a.to_string());
      nlohmann::json peer = {
          {"public_key", dataplane::to_base64(p.public_key.bytes)},
          {"endpoint", p.endpoint ? nlohmann::json(p.endpoint->to_string()) : nlohmann::json()},
          {"allowed_ips", ips},
          {"latest_handshake_unix", p.last_handshake_sec},
          {"latest_handshake_age_seconds",
           p.last_handshake_sec ? nlohmann::json(now_unix - p.last_handshake_sec)
                                : nlohmann::json()},
          {"rx_bytes", p.rx_bytes},
          {"tx_bytes", p.tx_bytes},
          {"persistent_keepalive", p.persistent_keepalive},
          {"preshared_key", p.preshared_key.has_value()},
      };
      if (const auto* path = path_of(s, p.public_key)) peer["path"] = *path;
      peers.push_back(std::move(peer));
    }
    nlohmann::json iface = {
        {"name", s.name},
        {"public_key", public_key_text(s.state)},
        {"listen_port", s.state.listen_port},
        {"fwmark", s.state.fwmark},
        {"peers", peers},
    };
    if (!s.counters.empty()) iface["counters"] = s.counters;
    if (s.paths.is_object()) {
      const auto* r = home_relay(s);
      iface["relay"] = r ? *r : nlohmann::json();
    }
    interfaces.push_back(std::move(iface));
  }
  return nlohmann::json{{"interfaces", interfaces}}.dump(2) + "\n";
}

}  // namespace qvpn::cli
