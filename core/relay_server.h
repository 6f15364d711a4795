#pragma once
// `qvpn relay serve`: the DERP-style relay (docs/protocol/relay.md). Clients enter through
// an HTTP/1.1 Upgrade, prove they hold their node key, and then send packets addressed by
// destination key; the relay forwards the bytes as they are (WireGuard ciphertext or disco
// boxes) and never sees plaintext. GET /healthz answers JSON counters. Each client has a
// rate limit and a bounded queue, so a fast or slow client cannot hurt the others.
#include <asio.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>

#include "dataplane/keys.h"
#include "platform/endpoint.h"

namespace qvpn::core {

struct RelayServerOptions {
  platform::Endpoint listen;  // TCP
  size_t max_clients = 10000;
  uint64_t rate_bytes_per_second = 64ull << 20;  // per client, what it sends
  uint64_t rate_burst_bytes = 4ull << 20;
  size_t queue_bytes = 4u << 20;  // per client, waiting to be written to it
  std::optional<dataplane::SecretKey> key;  // none: a fresh key for this run
};

struct RelayServerCounters {
  uint64_t connections = 0;
  uint64_t packets_forwarded = 0;
  uint64_t bytes_forwarded = 0;
  uint64_t packets_dropped = 0;  // over the rate, or the receiver's queue full
  uint64_t peer_gone_sent = 0;
  uint64_t auth_failures = 0;
  uint64_t frames_rejected = 0;  // too large, or out of place
  uint64_t http_rejected = 0;
  uint64_t clients_rejected_full = 0;
  uint64_t clients_replaced = 0;
};

class RelayServer {
 public:
  // Binds and starts accepting. Throws std::system_error when the address is unusable.
  RelayServer(asio::io_context& io, RelayServerOptions options);
  ~RelayServer();
  RelayServer(const RelayServer&) = delete;
  RelayServer& operator=(const RelayServer&) = delete;

  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  const dataplane::PublicKey& public_key() const { return public_key_; }
  size_t clients() const { return clients_.size(); }
  const RelayServerCounters& counters() const { return counters_; }
  // What /healthz answers; `extra` fields (the STUN server's) are merged in.
  nlohmann::json health() const;
  void set_extra_health(std::function<nlohmann::json()> extra) { extra_health_ = std::move(extra); }

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
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer keepalive_timer_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::unordered_map<dataplane::PublicKey, std::shared_ptr<Connection>, KeyHash> clients_;
  std::map<Connection*, std::shared_ptr<Connection>> connections_;  // every open one
  RelayServerCounters counters_;
  std::function<nlohmann::json()> extra_health_;
};

}  // namespace qvpn::core
