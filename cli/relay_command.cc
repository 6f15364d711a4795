#include "cli/relay_command.h"

#include <fmt/core.h>
#include <sys/resource.h>

#include <asio.hpp>
#include <charconv>
#include <optional>
#include <string>

#include "core/relay_server.h"
#include "dataplane/x25519.h"
#include "platform/secure_file.h"

namespace qvpn::cli {

namespace {

constexpr std::string_view kUsage =
    "Usage: qvpn relay serve [--listen ADDR:PORT] [--stun-port N] [--tls-cert FILE --tls-key "
    "FILE]\n"
    "                        [--key-file FILE] [--max-clients N] [--rate BYTES_PER_S] [--queue "
    "BYTES]\n";

template <typename T>
bool number(std::string_view text, T& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
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

// Each client holds a descriptor: allow as many as the hard limit lets us.
void raise_descriptor_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

}  // namespace

int cmd_relay(const Args& args) {
  if (args.empty() || args[0] != "serve") {
    fmt::print(stderr, "{}", kUsage);
    return 2;
  }
  core::RelayServerOptions options;
  options.listen = *platform::Endpoint::parse("0.0.0.0:8443");
  bool burst_set_by_rate = false;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (i + 1 >= args.size()) {
      fmt::print(stderr, "{}", kUsage);
      return 2;
    }
    const std::string_view v = args[++i];
    bool ok = true;
    if (a == "--listen") {
      const auto ep = platform::Endpoint::parse(v);
      ok = ep.has_value();
      if (ok) options.listen = *ep;
    } else if (a == "--stun-port") {
      ok = number(v, options.stun_port);
    } else if (a == "--tls-cert") {
      options.tls_cert = v;
    } else if (a == "--tls-key") {
      options.tls_key = v;
    } else if (a == "--key-file") {
      try {
        options.key = read_key(std::string(v));
      } catch (const std::exception& e) {
        fmt::print(stderr, "qvpn relay: {}\n", e.what());
        return 1;
      }
    } else if (a == "--max-clients") {
      ok = number(v, options.max_clients) && options.max_clients > 0;
    } else if (a == "--rate") {
      ok = number(v, options.rate_bytes_per_second) && options.rate_bytes_per_second > 0;
      burst_set_by_rate = true;
    } else if (a == "--queue") {
      // Below 64 KiB a single full-size packet frame could not be queued.
      ok = number(v, options.queue_bytes) && options.queue_bytes >= (64u << 10);
    } else {
      ok = false;
    }
    if (!ok) {
      fmt::print(stderr, "qvpn relay: bad {} {}\n{}", a, v, kUsage);
      return 2;
    }
  }
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    fmt::print(stderr, "qvpn relay: --tls-cert and --tls-key go together\n{}", kUsage);
    return 2;
  }
  // A burst of 1/16 s of the rate, but room for a few full-size packets at any rate.
  if (burst_set_by_rate) {
    options.rate_burst_bytes = std::max<uint64_t>(options.rate_bytes_per_second / 16, 256u << 10);
  }
  raise_descriptor_limit();

  asio::io_context io;
  std::optional<core::RelayServer> relay;
  try {
    relay.emplace(io, options);
  } catch (const std::exception& e) {
    fmt::print(stderr, "qvpn relay: {}: {}\n", options.listen.to_string(), e.what());
    return 1;
  }
  fmt::print("qvpn relay: listening on tcp {} ({}), stun udp {}, public key {}\n",
             platform::Endpoint{options.listen.ip, relay->port()}.to_string(),
             relay->tls() ? "https" : "http",
             relay->stun() ? std::to_string(relay->stun()->port()) : "off",
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
