#include "core/relay_client.h"

#include <fmt/core.h>
#include <sodium.h>

#include <cstring>

#include "core/relay_stream.h"
#include "dataplane/x25519.h"
#include "nat/http_head.h"
#include "nat/relay_protocol.h"
#include "platform/endpoint.h"

namespace qvpn::core {

namespace {
using nat::RelayFrame;
constexpr auto kTick = std::chrono::seconds(10);
constexpr auto kSilenceLimit = std::chrono::seconds(75);
constexpr auto kMaxBackoff = std::chrono::milliseconds(5000);
}  // namespace

RelayClient::RelayClient(asio::io_context& io, RelayClientOptions options,
                         const dataplane::SecretKey& key, Callbacks callbacks)
    : io_(io),
      options_(std::move(options)),
      secret_(key),
      public_(dataplane::public_key_of(key)),
      cb_(std::move(callbacks)),
      retry_timer_(io),
      tick_timer_(io) {}

RelayClient::~RelayClient() {
  *alive_ = false;
  if (stream_) stream_->close();
}

void RelayClient::start() {
  connect();
  tick();
}

void RelayClient::connect() {
  auto ep = platform::Endpoint::parse(options_.address);
  if (!ep) ep = platform::Endpoint::resolve(options_.address);
  if (!ep) {
    fmt::print(stderr, "qvpn: relay {}: cannot resolve\n", options_.address);
    return retry_later();
  }
  const asio::ip::tcp::endpoint target(asio::ip::make_address(ep->ip.to_string()), ep->port);
  auto socket = std::make_shared<asio::ip::tcp::socket>(io_);
  socket->async_connect(target, [this, socket, alive = alive_](asio::error_code ec) {
    if (!*alive) return;
    if (ec) return retry_later();
    stream_ = std::make_shared<RelayStream>(std::move(*socket), options_.queue_bytes);
    stream_->write_raw(fmt::format(
        "GET /relay HTTP/1.1\r\nHost: {}\r\nUpgrade: {}\r\nConnection: Upgrade\r\n"
        "Qvpn-Relay-Version: {}\r\n\r\n",
        options_.address, nat::kRelayUpgradeToken, nat::kRelayVersion));
    last_heard_ = std::chrono::steady_clock::now();
    stream_->start({
        .on_head =
            [this, alive](std::string_view text) {
              if (!*alive) return false;
              const auto head = nat::parse_http_head(text, false);
              if (!head || head->second != "101" ||
                  !head->header_has_token("Upgrade", nat::kRelayUpgradeToken)) {
                fmt::print(stderr, "qvpn: relay {}: refused the upgrade\n", options_.address);
                stream_->close();
                return false;
              }
              return true;
            },
        .on_frame =
            [this, alive](uint8_t type, std::span<const uint8_t> payload) {
              if (*alive) on_frame(type, payload);
            },
        .on_protocol_error = {},
        .on_closed =
            [this, alive] {
              if (*alive) on_closed();
            },
    });
  });
}

void RelayClient::on_frame(uint8_t type, std::span<const uint8_t> payload) {
  last_heard_ = std::chrono::steady_clock::now();
  switch (static_cast<RelayFrame>(type)) {
    case RelayFrame::kServerHello: {
      const auto hello = nat::parse_server_hello(payload);
      if (!hello) return stream_->close();
      stream_->write_frame(RelayFrame::kClientHello,
                           {nat::client_hello_payload(*hello, secret_, public_)});
      return;
    }
    case RelayFrame::kServerReady:
      connected_ = true;
      backoff_ = std::chrono::milliseconds(500);
      ping_sent_ = {};
      tick();
      if (cb_.on_state) cb_.on_state(true);
      return;
    case RelayFrame::kRecvPacket:
      if (const auto p = nat::parse_keyed(payload, 1, nat::kMaxRelayPacket)) {
        ++packets_received_;
        if (cb_.on_packet) cb_.on_packet(p->key, p->rest);
      }
      return;
    case RelayFrame::kPeerGone:
      if (const auto p = nat::parse_keyed(payload, 1, 1); p && cb_.on_peer_gone) cb_.on_peer_gone(p->key);
      return;
    case RelayFrame::kPing:
      if (payload.size() == 8) stream_->write_frame(RelayFrame::kPong, {payload});
      return;
    case RelayFrame::kPong:
      if (payload.size() == 8 && ping_sent_ != std::chrono::steady_clock::time_point{} &&
          std::memcmp(payload.data(), ping_data_.data(), 8) == 0) {
        latency_ = std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - ping_sent_);
      }
      return;
    case RelayFrame::kClose:
      fmt::print(stderr, "qvpn: relay {} closed the connection: {}\n", options_.address,
                 std::string_view(reinterpret_cast<const char*>(payload.data()),
                                  std::min(payload.size(), nat::kMaxCloseReason)));
      return;
    default:
      return;
  }
}

void RelayClient::on_closed() {
  stream_.reset();
  const bool was = connected_;
  connected_ = false;
  if (was && cb_.on_state) cb_.on_state(false);
  retry_later();
}

void RelayClient::retry_later() {
  retry_timer_.expires_after(backoff_);
  backoff_ = std::min(backoff_ * 2, kMaxBackoff);
  retry_timer_.async_wait([this, alive = alive_](asio::error_code ec) {
    if (!ec && *alive && !stream_) connect();
  });
}

// Every 10 s: a ping for the round trip, and the end of a connection gone silent.
void RelayClient::tick() {
  if (connected_ && stream_) {
    if (std::chrono::steady_clock::now() - last_heard_ > kSilenceLimit) {
      stream_->close();
    } else {
      randombytes_buf(ping_data_.data(), ping_data_.size());
      ping_sent_ = std::chrono::steady_clock::now();
      stream_->write_frame(RelayFrame::kPing, {ping_data_});
    }
  }
  tick_timer_.expires_after(kTick);
  tick_timer_.async_wait([this, alive = alive_](asio::error_code ec) {
    if (!ec && *alive) tick();
  });
}

bool RelayClient::send(const dataplane::PublicKey& dst, std::span<const uint8_t> packet) {
  if (!connected_ || !stream_ || packet.empty() || packet.size() > nat::kMaxRelayPacket) return false;
  if (!stream_->write_frame(RelayFrame::kSendPacket, {dst.bytes, packet})) return false;
  ++packets_sent_;
  return true;
}

}  // namespace qvpn::core
