#include "cli/nat_commands.h"

#include <fmt/core.h>
#include <poll.h>

#include <asio.hpp>
#include <charconv>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/config.h"
#include "core/port_mapper.h"
#include "core/relay_client.h"
#include "core/uapi_client.h"
#include "dataplane/x25519.h"
#include "nat/stun_probe.h"
#include "platform/paths.h"
#include "platform/udp_socket.h"

namespace qvpn::cli {

namespace {

using Clock = std::chrono::steady_clock;

nlohmann::json answer_json(const std::string& answer) {
  if (!answer.starts_with("json=")) throw std::runtime_error("the node does not answer pings");
  return nlohmann::json::parse(answer.substr(5, answer.find('\n') - 5));
}

// The interface whose node has `key` as a peer.
std::optional<std::string> interface_with_peer(const dataplane::PublicKey& key) {
  for (const auto& name : core::uapi_interfaces(platform::uapi_socket_dir())) {
    try {
      const auto state = core::parse_uapi_get(
          core::uapi_request(platform::uapi_socket_path(name), "get=1\n\n"));
      for (const auto& p : state.peers) {
        if (p.public_key == key) return name;
      }
    } catch (const std::exception&) {
    }
  }
  return std::nullopt;
}

}  // namespace

int cmd_ping(const Args& args) {
  bool json = false;
  int count = 4;
  std::optional<dataplane::KeyBytes> key;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--json") {
      json = true;
    } else if (args[i] == "-c" && i + 1 < args.size()) {
      const auto v = args[++i];
      if (std::from_chars(v.data(), v.data() + v.size(), count).ec != std::errc() || count < 1) {
        count = 0;
      }
    } else if (!key) {
      key = dataplane::key_from_base64(args[i]);
      if (!key) count = 0;
    } else {
      count = 0;
    }
  }
  if (!key || count < 1) {
    fmt::print(stderr, "Usage: qvpn ping PEER_PUBLIC_KEY [-c N] [--json]\n");
    return 2;
  }
  const dataplane::PublicKey peer{*key};
  const auto iface = interface_with_peer(peer);
  if (!iface) {
    fmt::print(stderr, "qvpn: no running node has peer {}\n", dataplane::to_base64(peer.bytes));
    return 1;
  }
  const std::string request = "ping=" + dataplane::to_hex(peer.bytes) + "\n\n";
  nlohmann::json replies = nlohmann::json::array();
  int received = 0;
  for (int seq = 1; seq <= count; ++seq) {
    const auto started = Clock::now();
    nlohmann::json r;
    try {
      r = answer_json(core::uapi_request(platform::uapi_socket_path(*iface), request));
    } catch (const std::exception& e) {
      fmt::print(stderr, "qvpn: {}: {}\n", *iface, e.what());
      return 1;
    }
    r["seq"] = seq;
    if (r.contains("error")) {
      if (!json) fmt::print("seq {}: {}\n", seq, r["error"].get<std::string>());
    } else {
      ++received;
      if (!json) {
        const std::string via = r["path"] == "direct" ? r["endpoint"].get<std::string>()
                                                      : "relay \"" + r["relay"].get<std::string>() + "\"";
        fmt::print("pong from {} via {} in {:.3f} ms\n", dataplane::to_base64(peer.bytes), via,
                   r["rtt_ms"].get<double>());
      }
    }
    replies.push_back(r);
    if (seq < count) std::this_thread::sleep_until(started + std::chrono::seconds(1));
  }
  if (json) {
    fmt::print("{}\n", nlohmann::json{{"peer", dataplane::to_base64(peer.bytes)},
                                      {"sent", count},
                                      {"received", received},
                                      {"replies", replies}}
                           .dump(2));
  }
  return received > 0 ? 0 : 1;
}

int cmd_netcheck(const Args& args) {
  bool json = false;
  std::filesystem::path config_file = platform::config_path();
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--json") {
      json = true;
    } else if ((args[i] == "-c" || args[i] == "--config") && i + 1 < args.size()) {
      config_file = args[++i];
    } else {
      fmt::print(stderr, "Usage: qvpn netcheck [-c FILE] [--json]\n");
      return 2;
    }
  }
  core::Config config;
  try {
    config = core::load_config(config_file);
  } catch (const std::exception& e) {
    fmt::print(stderr, "qvpn: {}\n", e.what());
    return 1;
  }
  if (!config.nat.enabled()) {
    fmt::print(stderr, "qvpn: {} names no [[relay]], so there is nothing to ask\n", config_file.string());
    return 1;
  }

  // STUN from a fresh socket: the same NAT, though not the node's own port.
  std::vector<platform::Endpoint> servers;
  for (const auto& r : config.nat.relays) {
    for (const auto& s : r.stun) {
      if (auto ep = platform::Endpoint::resolve(s)) servers.push_back(*ep);
    }
  }
  auto socket = platform::UdpSocket::bind(0);
  socket.set_nonblocking(true);
  nat::StunProbe probe(servers, platform::MonoClock::now());
  for (;;) {
    const auto now = platform::MonoClock::now();
    for (const auto& s : probe.poll(now)) socket.send_to(s.bytes, s.to);
    const auto next = probe.next_deadline(now);
    if (!next) break;
    pollfd p{socket.fd(), POLLIN, 0};
    ::poll(&p, 1, int(std::chrono::duration_cast<std::chrono::milliseconds>(*next - now).count()) + 1);
    std::array<uint8_t, 1500> buf;
    platform::Endpoint from;
    for (ssize_t n; (n = socket.recv_from(buf, from)) > 0;) {
      probe.handle({buf.data(), size_t(n)}, from, platform::MonoClock::now());
    }
  }

  // Which port-mapping protocols the gateway speaks (asked together, nothing mapped).
  const core::PortMapAnswers mapping = core::probe_port_mapping(socket.local_port());

  // Each relay's round trip, over its own protocol, with a throwaway key.
  asio::io_context io;
  const auto throwaway = dataplane::generate_private_key();
  std::vector<std::unique_ptr<core::RelayClient>> clients;
  for (const auto& r : config.nat.relays) {
    clients.push_back(std::make_unique<core::RelayClient>(io, core::RelayClientOptions{.address = r.address, .tls = r.tls, .ca_file = r.ca_file},
                                                          throwaway, core::RelayClient::Callbacks{}));
    clients.back()->start();
  }
  const auto deadline = Clock::now() + std::chrono::seconds(3);
  while (Clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(20));
    bool all = true;
    for (const auto& c : clients) all &= c->latency().has_value();
    if (all) break;
  }

  const auto ms = [](platform::Duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  nlohmann::json stun = nlohmann::json::array();
  bool v4 = false, v6 = false;
  for (const auto& r : probe.results()) {
    if (r.mapped) (r.server.ip.v6 ? v6 : v4) = true;
    stun.push_back({{"server", r.server.to_string()},
                    {"mapped", r.mapped ? nlohmann::json(r.mapped->to_string()) : nlohmann::json()},
                    {"rtt_ms", r.rtt ? nlohmann::json(ms(*r.rtt)) : nlohmann::json()}});
  }
  nlohmann::json relays = nlohmann::json::array();
  for (size_t i = 0; i < clients.size(); ++i) {
    const auto latency = clients[i]->latency();
    relays.push_back({{"name", config.nat.relays[i].name},
                      {"address", config.nat.relays[i].address},
                      {"latency_ms", latency ? nlohmann::json(ms(*latency)) : nlohmann::json()}});
  }
  const auto varies = probe.varies_by_destination();
  const nlohmann::json report = {
      {"udp", probe.mapped().has_value()},
      {"ipv4", v4},
      {"ipv6", v6},
      {"mapped_endpoint", probe.mapped() ? nlohmann::json(probe.mapped()->to_string()) : nlohmann::json()},
      {"mapping_varies_by_destination", varies ? nlohmann::json(*varies) : nlohmann::json()},
      {"port_mapping",
       {{"upnp", mapping.upnp},
        {"natpmp", mapping.natpmp},
        {"pcp", mapping.pcp},
        {"gateway", mapping.gateway ? nlohmann::json(mapping.gateway->to_string()) : nlohmann::json()}}},
      {"stun", stun},
      {"relays", relays},
  };
  if (json) {
    fmt::print("{}\n", report.dump(2));
    return 0;
  }
  fmt::print("UDP: {}\nIPv4: {}, IPv6: {}\n", report["udp"] == true ? "yes" : "no (blocked?)",
             v4 ? "yes" : "no", v6 ? "yes" : "no");
  if (probe.mapped()) fmt::print("mapped endpoint: {}\n", probe.mapped()->to_string());
  fmt::print("mapping varies by destination: {}\n",
             !varies ? "unknown (fewer than two STUN servers answered)"
                     : *varies ? "yes (hard NAT: direct paths need port mapping or the relay)"
                               : "no");
  fmt::print("port mapping: UPnP {}, NAT-PMP {}, PCP {} (gateway {})\n", mapping.upnp ? "yes" : "no",
             mapping.natpmp ? "yes" : "no", mapping.pcp ? "yes" : "no",
             mapping.gateway ? mapping.gateway->to_string() : "none");
  for (const auto& r : stun) {
    fmt::print("  stun {}: {}\n", r["server"].get<std::string>(),
               r["mapped"].is_null() ? "no answer" : r["mapped"].get<std::string>());
  }
  for (const auto& r : relays) {
    fmt::print("relay {} ({}): {}\n", r["name"].get<std::string>(), r["address"].get<std::string>(),
               r["latency_ms"].is_null() ? "unreachable"
                                         : fmt::format("{:.2f} ms", r["latency_ms"].get<double>()));
  }
  return 0;
}

}  // namespace qvpn::cli
