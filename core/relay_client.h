#pragma once
// A node's connection to one relay (docs/protocol/relay.md): connects, proves the node's
// key, then sends packets to other nodes' keys and hands up what arrives. It reconnects
// after any failure (0.5 s, doubling to 5 s), pings the relay every 10 s to measure the
// round trip, and gives up on a relay silent for 75 s. Runs on the node's io_context.
#include <asio.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "dataplane/keys.h"

namespace qvpn::core {

class RelayStream;

struct RelayClientOptions {
  std::string address;  // "host:port"
  size_t queue_bytes = 4u << 20;
};

class RelayClient {
 public:
  struct Callbacks {
    std::function<void(const dataplane::PublicKey& src, std::span<const uint8_t> packet)> on_packet;
    std::function<void(const dataplane::PublicKey& peer)> on_peer_gone;
    std::function<void(bool connected)> on_state;
  };

  RelayClient(asio::io_context& io, RelayClientOptions options, const dataplane::SecretKey& key,
              Callbacks callbacks);
  ~RelayClient();  // no callbacks after this
  RelayClient(const RelayClient&) = delete;
  RelayClient& operator=(const RelayClient&) = delete;

  void start();
  bool connected() const { return connected_; }
  // False when not connected or the queue is full.
  bool send(const dataplane::PublicKey& dst, std::span<const uint8_t> packet);
  std::optional<std::chrono::microseconds> latency() const { return latency_; }
  const std::string& address() const { return options_.address; }
  uint64_t packets_sent() const { return packets_sent_; }
  uint64_t packets_received() const { return packets_received_; }

 private:
  void connect();
  void on_frame(uint8_t type, std::span<const uint8_t> payload);
  void on_closed();
  void retry_later();
  void tick();

  asio::io_context& io_;
  RelayClientOptions options_;
  dataplane::SecretKey secret_;
  dataplane::PublicKey public_;
  Callbacks cb_;
  std::shared_ptr<RelayStream> stream_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  asio::steady_timer retry_timer_;
  asio::steady_timer tick_timer_;
  std::chrono::milliseconds backoff_{500};
  bool connected_ = false;
  std::chrono::steady_clock::time_point last_heard_;
  std::chrono::steady_clock::time_point ping_sent_;
  std::array<uint8_t, 8> ping_data_{};
  std::optional<std::chrono::microseconds> latency_;
  uint64_t packets_sent_ = 0;
  uint64_t packets_received_ = 0;
};

}  // namespace qvpn::core
