#include "core/node_runner.h"

#include <fmt/core.h>

#include <asio.hpp>
#include <charconv>
#include <cstdlib>
#include <string_view>

#include "core/node.h"
#include "core/uapi_server.h"
#include "platform/paths.h"

namespace qvpn::core {

namespace {
const char* on_off(bool on) { return on ? "on" : "off"; }
}  // namespace

DataPathOptions data_path_options(const std::optional<Config>& config) {
  DataPathOptions o;
  if (config) o = {config->interface.offload, config->interface.threads};
  if (const char* env = std::getenv("QVPN_OFFLOAD")) {
    const std::string_view v = env;
    o.offload = !(v == "0" || v == "off" || v == "false" || v == "no");
  }
  if (const char* env = std::getenv("QVPN_THREADS")) {
    unsigned n = 0;
    const std::string_view v = env;
    if (std::from_chars(v.data(), v.data() + v.size(), n).ec == std::errc() && n <= 256) o.threads = n;
  }
  return o;
}

int run_node(const NodeRunOptions& options) {
  asio::io_context io;
  std::optional<Node> node;
  std::optional<UapiServer> uapi;
  try {
    const uint16_t port =
        options.config ? options.config->interface.listen_port.value_or(0) : 0;
    node.emplace(io, options.ifname, port, data_path_options(options.config));
    fmt::print(stderr, "qvpn: {}: data path: tun offload {}, udp gso {}, udp gro {}, {} crypto thread(s)\n",
               node->name(), on_off(node->tun_offload()), on_off(node->udp_gso()),
               on_off(node->udp_gro()), node->crypto_threads());
    uapi.emplace(io, *node, platform::uapi_socket_dir());
    if (options.config) node->apply_config(*options.config);
  } catch (const ConfigError& e) {
    fmt::print(stderr, "qvpn: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "qvpn: {}\n", e.what());
    return 1;
  }

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](asio::error_code ec, int sig) {
    if (ec) return;
    fmt::print(stderr, "qvpn: {}: signal {}, shutting down\n", node->name(), sig);
    node->stop();
    uapi.reset();
    io.stop();
  });
  node->start();
  if (options.on_ready) options.on_ready(node->name(), node->listen_port());
  // Runs until a signal, or until the node stops itself (interface deleted) and its
  // handlers drain.
  while (!io.stopped() && !node->stopped()) io.run_one();
  uapi.reset();  // remove the socket before the interface disappears with the node
  node.reset();
  return 0;
}

}  // namespace qvpn::core
