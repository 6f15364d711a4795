#include "core/node_runner.h"

#include <fmt/core.h>

#include <asio.hpp>

#include "core/node.h"
#include "core/uapi_server.h"
#include "platform/paths.h"

namespace qvpn::core {

int run_node(const NodeRunOptions& options) {
  asio::io_context io;
  std::optional<Node> node;
  std::optional<UapiServer> uapi;
  try {
    const uint16_t port =
        options.config ? options.config->interface.listen_port.value_or(0) : 0;
    node.emplace(io, options.ifname, port);
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
