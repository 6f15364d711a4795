#pragma once
// `qvpn relay serve`: the DERP-style relay (docs/protocol/relay.md). Clients enter through
// an HTTP/1.1 Upgrade (over TLS when a certificate is configured), prove they hold their
// node key, and then send packets addressed by destination key; the relay forwards the
// bytes as they are (WireGuard ciphertext or disco boxes) and never sees plaintext.
// GET /healthz answers JSON counters. Each client has a rate limit and a bounded queue, so
// a fast or slow client cannot hurt the others. The same process answers STUN on UDP.
#include <asio.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>

#include "core/stun_server.h"
#include "dataplane/keys.h"
#include "platform/endpoint.h"

namespace asio::ssl {
class context;
}

namespace qvpn::core {

struct RelayServerOptions {
  platform::Endpoint listen;  // TCP
  uint16_t stun_port = 3478;  // UDP on every address of the host; 0 = no STUN
  size_t max_clients = 10000;
  uint64_t rate_bytes_per_second = 64ull << 20;  // per client, what it sends
  uint64_t rate_burst_bytes = 4ull << 20;
  size_t queue_bytes = 4u << 20;            // per client, waiting to be written to it
  std::filesystem::path tls_cert, tls_key;  // PEM; both (every connection is TLS) or neither
  std::optional<dataplane::SecretKey> key;  // none: a fresh key for this run
};

struct RelayServerCounters {
  uint64_t connections = 0;  // accepted, of any kind
  uint64_t packets_forwarded = 0;
  uint64_t bytes_forwarded = 0;
  uint64_t packets_dropped = 0;  // over the sender's rate, or the receiver's queue full
  uint64_t peer_gone_sent = 0;
  uint64_t auth_failures = 0;    // a key proof that failed, or none within 10 s
  uint64_t frames_rejected = 0;  // too large, malformed, or out of place
  uint64_t http_rejected = 0;    // not a head, too long, too slow, or a request we do not serve
  uint64_t tls_failures = 0;     // TLS handshakes that failed
  uint64_t clients_rejected_full = 0;
  uint64_t clients_replaced = 0;
};

class RelayServer {
 public:
  // Binds TCP (and UDP for STUN) and starts serving. Throws std::system_error when an address
  // is unusable, std::runtime_error when the certificate or key cannot be loaded.
  RelayServer(asio::io_context& io, RelayServerOptions options);
  ~RelayServer();
  RelayServer(const RelayServer&) = delete;
  RelayServer& operator=(const RelayServer&) = delete;

  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  bool tls() const { return tls_ != nullptr; }
  const dataplane::PublicKey& public_key() const { return public_key_; }
  size_t clients() const { return clients_.size(); }
  const RelayServerCounters& counters() const { return counters_; }
  const StunServer* stun() const { return stun_ ? &*stun_ : nullptr; }
  // What /healthz answers: the counters, clients, uptime_seconds and the STUN counters.
  nlohmann::json health() const;

 private:
  class Connection;
  struct KeyHash {
    size_t operator()(const dataplane::PublicKey& k) const;
  };
  void accept();
  void keepalive();

  asio::io_context& io_;
  RelayServerOptions options_;
  dataplane::SecretKey secret_;
  dataplane::PublicKey public_key_;
  std::shared_ptr<asio::ssl::context> tls_;
  asio::ip::tcp::acceptor acceptor_;
  std::optional<StunServer> stun_;
  asio::steady_timer accept_timer_;
  asio::steady_timer keepalive_timer_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::unordered_map<dataplane::PublicKey, std::shared_ptr<Connection>, KeyHash> clients_;
  // Every open connection, authenticated or not, so the destructor can close them all.
  std::unordered_map<Connection*, std::shared_ptr<Connection>> connections_;
  RelayServerCounters counters_;
};

}  // namespace qvpn::core
