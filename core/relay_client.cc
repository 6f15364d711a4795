#include "core/relay_client.h"

#include <fmt/core.h>
#include <sodium.h>

#include <asio/ssl.hpp>
#include <cstring>

#include "core/relay_stream.h"
#include "dataplane/x25519.h"
#include "nat/http_head.h"
#include "nat/relay_protocol.h"

namespace qvpn::core {

namespace {

using nat::RelayFrame;
constexpr auto kTick = std::chrono::seconds(10);
constexpr auto kSilenceLimit = std::chrono::seconds(75);
constexpr auto kFirstBackoff = std::chrono::milliseconds(500);
constexpr auto kMaxBackoff = std::chrono::milliseconds(5000);

// "host:port" or "[v6]:port" -> host (without brackets) and port.
std::pair<std::string, std::string> split_host_port(std::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return {std::string(address), ""};
  std::string_view host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return {std::string(host), std::string(address.substr(colon + 1))};
}

std::shared_ptr<asio::ssl::context> client_tls(const RelayClientOptions& o) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1);
  ctx->set_verify_mode(asio::ssl::verify_peer);
  if (o.ca_file.empty()) {
    ctx->set_default_verify_paths();
  } else {
    ctx->load_verify_file(o.ca_file.string());
  }
  return ctx;
}

}  // namespace

RelayClient::RelayClient(asio::io_context& io, RelayClientOptions options,
                         const dataplane::SecretKey& key, Callbacks callbacks)
    : io_(io),
      options_(std::move(options)),
      secret_(key),
      public_(dataplane::public_key_of(key)),
      cb_(std::move(callbacks)),
      resolver_(io),
      retry_timer_(io),
      tick_timer_(io) {
  std::tie(host_, port_) = split_host_port(options_.address);
}

RelayClient::~RelayClient() {
  *alive_ = false;
  resolver_.cancel();
  asio::error_code ec;
  if (connecting_) connecting_->close(ec);
  if (stream_) stream_->close();
}

void RelayClient::start() {
  connect();
  tick();
}

void RelayClient::connect() {
  if (options_.tls && !tls_) {
    try {
      tls_ = client_tls(options_);
    } catch (const std::exception& e) {
      fmt::print(stderr, "qvpn: relay {}: TLS: {}: {}\n", options_.address,
                 options_.ca_file.string(), e.what());
      return retry_later();
    }
  }
  resolver_.async_resolve(
      host_, port_,
      [this, alive = alive_](asio::error_code ec, asio::ip::tcp::resolver::results_type results) {
        if (!*alive) return;
        if (ec) {
          fmt::print(stderr, "qvpn: relay {}: {}\n", options_.address, ec.message());
          return retry_later();
        }
        connecting_ = std::make_shared<asio::ip::tcp::socket>(io_);
        asio::async_connect(*connecting_, results,
                            [this, alive, socket = connecting_](asio::error_code ec, const auto&) {
                              if (!*alive) return;
                              connecting_.reset();
                              if (ec) return retry_later();
                              on_connected(std::move(*socket));
                            });
      });
}

void RelayClient::on_connected(asio::ip::tcp::socket socket) {
  const RelayTls tls{tls_, false, host_};
  stream_ = std::make_shared<RelayStream>(std::move(socket), options_.queue_bytes,
                                          options_.tls ? &tls : nullptr);
  stream_->write_raw(
      fmt::format("GET /relay HTTP/1.1\r\nHost: {}\r\nUpgrade: {}\r\nConnection: Upgrade\r\n"
                  "Qvpn-Relay-Version: {}\r\n\r\n",
                  options_.address, nat::kRelayUpgradeToken, nat::kRelayVersion));
  last_heard_ = std::chrono::steady_clock::now();
  auto alive = alive_;
  stream_->start({
      .on_head = [this, alive](std::string_view text) { return *alive && on_head(text); },
      .on_frame =
          [this, alive](uint8_t type, std::span<const uint8_t> payload) {
            if (*alive) on_frame(type, payload);
          },
      .on_error =
          [this, alive](RelayStream::Error e) {
            if (*alive && e == RelayStream::Error::kTls) {
              fmt::print(stderr, "qvpn: relay {}: TLS handshake failed\n", options_.address);
            }
          },
      .on_closed =
          [this, alive] {
            if (*alive) on_closed();
          },
  });
}

bool RelayClient::on_head(std::string_view text) {
  const auto head = nat::parse_http_head(text, false);
  if (!head || head->second != "101" ||
      !head->header_has_token("Upgrade", nat::kRelayUpgradeToken)) {
    fmt::print(stderr, "qvpn: relay {}: refused the upgrade\n", options_.address);
    stream_->close();
    return false;
  }
  return true;
}

void RelayClient::on_frame(uint8_t type, std::span<const uint8_t> payload) {
  last_heard_ = std::chrono::steady_clock::now();
  switch (static_cast<RelayFrame>(type)) {
    case RelayFrame::kServerHello: {
      const auto hello = nat::parse_server_hello(payload);
      if (!hello) return stream_->close();
      server_key_ = hello->server_key;
      stream_->write_frame(RelayFrame::kClientHello,
                           {nat::client_hello_payload(*hello, secret_, public_)});
      return;
    }
    case RelayFrame::kServerReady:
      connected_ = true;
      backoff_ = kFirstBackoff;
      ping_sent_ = {};
      tick();  // the first ping at once
      if (cb_.on_state) cb_.on_state(true);
      return;
    case RelayFrame::kRecvPacket:
      if (const auto p = nat::parse_keyed(payload, 1, nat::kMaxRelayPacket)) {
        ++packets_received_;
        if (cb_.on_packet) cb_.on_packet(p->key, p->rest);
      }
      return;
    case RelayFrame::kPeerGone:
      if (const auto p = nat::parse_keyed(payload, 1, 1); p && cb_.on_peer_gone)
        cb_.on_peer_gone(p->key);
      return;
    case RelayFrame::kPing:
      if (payload.size() == nat::kRelayPingSize) stream_->write_frame(RelayFrame::kPong, {payload});
      return;
    case RelayFrame::kPong:
      if (payload.size() == nat::kRelayPingSize &&
          ping_sent_ != std::chrono::steady_clock::time_point{} &&
          std::memcmp(payload.data(), ping_data_.data(), ping_data_.size()) == 0) {
        latency_ = std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - ping_sent_);
      }
      return;
    case RelayFrame::kClose:
      fmt::print(stderr, "qvpn: relay {} closed the connection: {}\n", options_.address,
                 nat::parse_close(payload));
      return stream_->close();
    default:
      return;  // KeepAlive (its arrival is what counts), and types from newer relays
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
    if (!ec && *alive && !stream_ && !connecting_) connect();
  });
}

// Every 10 s: a ping for the round trip, and the end of a connection gone silent.
void RelayClient::tick() {
  if (connected_ && stream_) {
    if (std::chrono::steady_clock::now() - last_heard_ > kSilenceLimit) {
      fmt::print(stderr, "qvpn: relay {}: silent for {} s, reconnecting\n", options_.address,
                 kSilenceLimit.count());
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
  if (!connected_ || !stream_ || packet.empty() || packet.size() > nat::kMaxRelayPacket)
    return false;
  if (!stream_->write_frame(RelayFrame::kSendPacket, {dst.bytes, packet})) return false;
  ++packets_sent_;
  return true;
}

}  // namespace qvpn::core
