#pragma once
// A node's connection to one relay (docs/protocol/relay.md): connects (TCP, or TLS checked
// against the relay's host name), proves the node's key, then sends packets to other nodes'
// keys and hands up what arrives. It reconnects after any failure (0.5 s, doubling to 5 s,
// back to 0.5 s after a session that reached ServerReady), pings the relay every 10 s (and
// at once after connecting) to measure the round trip, and gives up on a relay that has
// said nothing for 75 s. Runs on the node's io_context; callbacks run there too.
#include <asio.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "dataplane/keys.h"

namespace asio::ssl {
class context;
}

namespace qvpn::core {

class RelayStream;

struct RelayClientOptions {
  std::string address;  // "host:port"; a host name is resolved at each connect
  bool tls = false;
  std::filesystem::path ca_file;  // TLS: trust these CAs; empty = the system's
  size_t queue_bytes = 4u << 20;  // waiting to be written to the relay
};

class RelayClient {
 public:
  struct Callbacks {
    std::function<void(const dataplane::PublicKey& src, std::span<const uint8_t> packet)> on_packet;
    std::function<void(const dataplane::PublicKey& peer)> on_peer_gone;
    std::function<void(bool connected)> on_state;
  };

  // Copies `key`; the copy is wiped on destruction.
  RelayClient(asio::io_context& io, RelayClientOptions options, const dataplane::SecretKey& key,
              Callbacks callbacks);
  ~RelayClient();  // closes; no callbacks after this
  RelayClient(const RelayClient&) = delete;
  RelayClient& operator=(const RelayClient&) = delete;

  void start();
  bool connected() const { return connected_; }  // ServerReady received
  // False when not connected, the packet is empty or over 65535 bytes, or the queue is full.
  bool send(const dataplane::PublicKey& dst, std::span<const uint8_t> packet);
  // The last Ping -> Pong round trip.
  std::optional<std::chrono::microseconds> latency() const { return latency_; }
  // The relay's key, from its ServerHello on the current or last connection.
  const dataplane::PublicKey* server_key() const { return server_key_ ? &*server_key_ : nullptr; }
  const std::string& address() const { return options_.address; }
  uint64_t packets_sent() const { return packets_sent_; }
  uint64_t packets_received() const { return packets_received_; }

 private:
  void connect();
  void on_connected(asio::ip::tcp::socket socket);
  bool on_head(std::string_view text);
  void on_frame(uint8_t type, std::span<const uint8_t> payload);
  void on_closed();
  void retry_later();
  void tick();

  asio::io_context& io_;
  RelayClientOptions options_;
  std::string host_, port_;  // of options_.address
  dataplane::SecretKey secret_;
  dataplane::PublicKey public_;
  Callbacks cb_;
  std::shared_ptr<asio::ssl::context> tls_;
  asio::ip::tcp::resolver resolver_;
  std::shared_ptr<asio::ip::tcp::socket> connecting_;
  std::shared_ptr<RelayStream> stream_;
  // Handlers hold this and do nothing once it is false (after destruction).
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  asio::steady_timer retry_timer_;
  asio::steady_timer tick_timer_;
  std::chrono::milliseconds backoff_{500};
  bool connected_ = false;
  std::optional<dataplane::PublicKey> server_key_;
  std::chrono::steady_clock::time_point last_heard_;
  std::chrono::steady_clock::time_point ping_sent_;
  std::array<uint8_t, 8> ping_data_{};
  std::optional<std::chrono::microseconds> latency_;
  uint64_t packets_sent_ = 0;
  uint64_t packets_received_ = 0;
};

}  // namespace qvpn::core
