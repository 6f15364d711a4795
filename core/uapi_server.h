#pragma once
// The WireGuard cross-platform userspace API on a Unix socket, /var/run/wireguard/IFACE.sock,
// so wg(8) and wg-quick(8) drive qvpn as they drive wireguard-go. Requests are
// "get=1\n\n" or "set=1\n<key=value lines>\n"; several may follow on one connection.
// One extension: "get=qvpn\n\n" answers the node's drop counters as key=value lines.
#include <asio.hpp>
#include <filesystem>
#include <string>

#include "core/node.h"

namespace qvpn::core {

class UapiServer {
 public:
  // Creates the socket, replacing a stale one; throws std::system_error if another live
  // process owns it.
  UapiServer(asio::io_context& io, Node& node, const std::filesystem::path& dir);
  ~UapiServer();  // closes and removes the socket
  const std::filesystem::path& path() const { return path_; }

  // Answers one whole request (without its terminating blank line); exposed for tests.
  static std::string respond(Node& node, std::string_view request);

 private:
  void accept();
  asio::local::stream_protocol::acceptor acceptor_;
  Node& node_;
  std::filesystem::path path_;
};

}  // namespace qvpn::core
