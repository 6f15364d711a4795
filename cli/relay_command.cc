#include "cli/relay_command.h"

#include <fmt/core.h>

#include <asio.hpp>
#include <charconv>
#include <optional>
#include <string>

#include "core/relay_server.h"
#include "core/stun_server.h"
#include "dataplane/x25519.h"
#include "platform/secure_file.h"

namespace qvpn::cli {

namespace {

constexpr std::string_view kUsage =
    "Usage: qvpn relay serve [--listen ADDR:PORT] [--stun-port N] [--key-file FILE]\n"
    "                        [--max-clients N] [--rate BYTES_PER_S] [--queue BYTES]\n";

template <typename T>
bool number(std::string_view text, T& out) {
  return std::from_chars(text.data(), text.data() + text.size(), out).ec == std::errc() &&
         std::to_string(out) == text;
}

dataplane::SecretKey read_key(const std::string& file) {
  std::string text = platform::read_secret_file(file);
  auto key = dataplane::key_from_base64(std::string_view(text).substr(0, 44));
  dataplane::secure_wipe(text.data(), text.size());
  if (!key) throw std::runtime_error(file + ": not a base64 key (as `qvpn genkey` writes)");
  dataplane::SecretKey secret(*key);
  dataplane::secure_wipe(key->data(), key->size());
  return secret;
}

}  // namespace

int cmd_relay(const Args& args) {
  if (args.empty() || args[0] != "serve") {
    fmt::print(stderr, "{}", kUsage);
    return 2;
  }
  core::RelayServerOptions options;
  options.listen = *platform::Endpoint::parse("0.0.0.0:8443");
  uint16_t stun_port = 3478;
  try {
    for (size_t i = 1; i < args.size(); ++i) {
      const std::string_view a = args[i];
      if (i + 1 >= args.size()) throw std::invalid_argument("");
      const std::string_view v = args[++i];
      bool ok = true;
      if (a == "--listen") {
        const auto ep = platform::Endpoint::parse(v);
        ok = ep.has_value();
        if (ok) options.listen = *ep;
      } else if (a == "--stun-port") {
        ok = number(v, stun_port);
      } else if (a == "--key-file") {
        options.key = read_key(std::string(v));
      } else if (a == "--max-clients") {
        ok = number(v, options.max_clients) && options.max_clients > 0;
      } else if (a == "--rate") {
        ok = number(v, options.rate_bytes_per_second) && options.rate_bytes_per_second > 0;
        options.rate_burst_bytes = std::max<uint64_t>(options.rate_bytes_per_second / 16, 256 << 10);
      } else if (a == "--queue") {
        ok = number(v, options.queue_bytes) && options.queue_bytes >= (64 << 10);
      } else {
        ok = false;
      }
      if (!ok) {
        fmt::print(stderr, "qvpn relay: bad {} {}\n{}", a, v, kUsage);
        return 2;
      }
    }
  } catch (const std::invalid_argument&) {
    fmt::print(stderr, "{}", kUsage);
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "qvpn relay: {}\n", e.what());
    return 1;
  }

  asio::io_context io;
  std::optional<core::RelayServer> relay;
  std::optional<core::StunServer> stun;
  try {
    relay.emplace(io, options);
    if (stun_port) {
      stun.emplace(io, stun_port);
      relay->set_extra_health([&] { return stun->health(); });
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "qvpn relay: {}: {}\n", options.listen.to_string(), e.what());
    return 1;
  }
  fmt::print("qvpn relay: listening on tcp {}:{} (http), stun udp {}, public key {}\n",
             options.listen.ip.to_string(), relay->port(),
             stun ? std::to_string(stun->port()) : "off",
             dataplane::to_base64(relay->public_key().bytes));
  std::fflush(stdout);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](asio::error_code ec, int) {
    if (!ec) io.stop();
  });
  io.run();
  return 0;
}

}  // namespace qvpn::cli
