#include "core/relay_server.h"

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

using Clock = std::chrono::steady_clock;
using nat::RelayFrame;

// How long a connection may take for its TLS handshake and HTTP head, and then for its
// ClientHello: slow clients hold a socket and memory, so they are cut off.
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr auto kKeepAliveInterval = std::chrono::seconds(30);
constexpr auto kPeerGoneInterval = std::chrono::seconds(1);
constexpr size_t kMaxPeerGoneMemory = 1024;
// Connections still in their handshake, beyond max_clients: each costs a socket and buffers
// for up to 2 * kHandshakeTimeout, so their number is bounded too.
constexpr size_t kMaxUnauthenticated = 1024;
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);

std::string http_response(std::string_view status, std::string_view type, std::string_view body) {
  return fmt::format(
      "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
      status, type, body.size(), body);
}

std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::shared_ptr<asio::ssl::context> server_tls(const RelayServerOptions& o) {
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    throw std::runtime_error("TLS needs both a certificate and its key");
  }
  if (o.tls_cert.empty()) return nullptr;
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1);
  try {
    ctx->use_certificate_chain_file(o.tls_cert.string());
  } catch (const std::system_error& e) {
    throw std::runtime_error(
        fmt::format("{}: cannot load the certificate: {}", o.tls_cert.string(), e.what()));
  }
  try {
    ctx->use_private_key_file(o.tls_key.string(), asio::ssl::context::pem);
  } catch (const std::system_error& e) {
    throw std::runtime_error(
        fmt::format("{}: cannot load the key: {}", o.tls_key.string(), e.what()));
  }
  return ctx;
}

}  // namespace

size_t RelayServer::KeyHash::operator()(const dataplane::PublicKey& k) const {
  size_t h;
  std::memcpy(&h, k.bytes.data(), sizeof h);
  return h;
}

class RelayServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(RelayServer& server, asio::ip::tcp::socket socket, const RelayTls* tls)
      : server_(&server),
        stream_(std::make_shared<RelayStream>(std::move(socket), server.options_.queue_bytes, tls)),
        timer_(server.io_),
        tokens_(static_cast<double>(server.options_.rate_burst_bytes)) {}

  // The server's connections_ owns this; the stream's callbacks hold it only weakly (no
  // cycle), and each call keeps it alive while it runs, even if it ends the connection.
  void start() {
    auto weak = weak_from_this();
    stream_->start({
        .on_head =
            [weak](std::string_view head) {
              const auto self = weak.lock();
              return self && self->on_head(head);
            },
        .on_frame =
            [weak](uint8_t type, std::span<const uint8_t> p) {
              if (const auto self = weak.lock()) self->on_frame(type, p);
            },
        .on_error =
            [weak](RelayStream::Error e) {
              if (const auto self = weak.lock()) self->on_error(e);
            },
        .on_closed =
            [weak] {
              if (const auto self = weak.lock()) self->on_closed();
            },
    });
    arm_timeout();
  }

  // The server is going away: close without touching it.
  void detach() {
    server_ = nullptr;
    stream_->close();
  }

  // A packet from `src` for this client.
  void deliver(const dataplane::PublicKey& src, std::span<const uint8_t> packet) {
    sent_since_keepalive_ = true;
    if (stream_->write_frame(RelayFrame::kRecvPacket, {src.bytes, packet})) {
      ++server_->counters_.packets_forwarded;
      server_->counters_.bytes_forwarded += packet.size();
    } else {
      ++server_->counters_.packets_dropped;
    }
  }

  void send_close(std::string_view reason) {
    stream_->write_frame(RelayFrame::kClose, {bytes_of(reason)});
    stream_->close_after_writes();
  }

  // Every 30 s: a KeepAlive unless packets went to the client since the last one.
  void keepalive() {
    if (phase_ == Phase::kReady && !sent_since_keepalive_) {
      stream_->write_frame(RelayFrame::kKeepAlive, {});
    }
    sent_since_keepalive_ = false;
  }

 private:
  enum class Phase { kHttp, kHello, kReady };

  // Until ready, each phase (TLS and HTTP head; ClientHello) has kHandshakeTimeout.
  void arm_timeout() {
    timer_.expires_after(kHandshakeTimeout);
    timer_.async_wait([weak = weak_from_this()](asio::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || !self->server_ || self->phase_ == Phase::kReady) return;
      auto& c = self->server_->counters_;
      ++(self->phase_ == Phase::kHttp ? c.http_rejected : c.auth_failures);
      self->stream_->close();
    });
  }

  void on_error(RelayStream::Error e) {
    if (!server_) return;
    auto& c = server_->counters_;
    switch (e) {
      case RelayStream::Error::kTls:
        ++c.tls_failures;
        return;
      case RelayStream::Error::kBadHead:
        ++c.http_rejected;
        return;
      case RelayStream::Error::kFrameTooLarge:
        ++c.frames_rejected;
        send_close("protocol error");
        return;
    }
  }

  bool on_head(std::string_view text) {
    const auto head = nat::parse_http_head(text, true);
    const auto reject = [&](std::string_view status) {
      ++server_->counters_.http_rejected;
      stream_->write_raw(http_response(status, "text/plain", std::string(status) + "\n"));
      stream_->close_after_writes();
      return false;
    };
    if (!head) return reject("400 Bad Request");
    if (head->first != "GET") return reject("405 Method Not Allowed");
    if (head->second == "/healthz") {
      stream_->write_raw(
          http_response("200 OK", "application/json", server_->health().dump() + "\n"));
      stream_->close_after_writes();
      return false;
    }
    if (head->second == "/") {
      stream_->write_raw(http_response("200 OK", "text/plain", "qvpn relay\n"));
      stream_->close_after_writes();
      return false;
    }
    if (head->second != "/relay") return reject("404 Not Found");
    if (!head->header_has_token("Upgrade", nat::kRelayUpgradeToken) ||
        !head->header_has_token("Connection", "upgrade")) {
      return reject("426 Upgrade Required");
    }
    stream_->write_raw(fmt::format(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: {}\r\nConnection: Upgrade\r\n\r\n",
        nat::kRelayUpgradeToken));
    hello_.server_key = server_->public_key_;
    randombytes_buf(hello_.challenge.data(), hello_.challenge.size());
    stream_->write_frame(RelayFrame::kServerHello, {nat::server_hello_payload(hello_)});
    phase_ = Phase::kHello;
    arm_timeout();
    return true;
  }

  void on_frame(uint8_t type, std::span<const uint8_t> payload) {
    if (!server_) return;
    auto& c = server_->counters_;
    if (phase_ == Phase::kHello) {
      if (type != static_cast<uint8_t>(RelayFrame::kClientHello)) {
        ++c.frames_rejected;
        return send_close("protocol error");
      }
      const auto key = nat::verify_client_hello(payload, hello_, server_->secret_);
      if (!key) {
        ++c.auth_failures;
        return send_close("key proof failed");
      }
      register_client(*key);
      return;
    }
    switch (static_cast<RelayFrame>(type)) {
      case RelayFrame::kSendPacket: {
        const auto p = nat::parse_keyed(payload, 1, nat::kMaxRelayPacket);
        if (!p) {
          ++c.frames_rejected;
          return;
        }
        forward(p->key, p->rest);
        return;
      }
      case RelayFrame::kPing:
        if (payload.size() == nat::kRelayPingSize)
          stream_->write_frame(RelayFrame::kPong, {payload});
        return;
      case RelayFrame::kClose:
        stream_->close();
        return;
      case RelayFrame::kClientHello:
      case RelayFrame::kServerHello:
      case RelayFrame::kServerReady:
      case RelayFrame::kRecvPacket:
      case RelayFrame::kPeerGone:
        ++c.frames_rejected;  // out of place from a client
        return;
      default:
        return;  // keepalives, pongs, and types from newer clients
    }
  }

  void register_client(const dataplane::PublicKey& key) {
    auto& clients = server_->clients_;
    const auto existing = clients.find(key);
    if (existing == clients.end() && clients.size() >= server_->options_.max_clients) {
      ++server_->counters_.clients_rejected_full;
      return send_close("server full");
    }
    if (existing != clients.end()) {
      // The same node reconnected (a new network, a restart): the newer connection wins.
      ++server_->counters_.clients_replaced;
      auto old = existing->second;
      old->key_.reset();
      old->send_close("replaced by a newer connection");
    }
    key_ = key;
    clients[key] = shared_from_this();
    phase_ = Phase::kReady;
    timer_.cancel();
    last_refill_ = Clock::now();
    stream_->write_frame(RelayFrame::kServerReady, {});
  }

  void forward(const dataplane::PublicKey& dst, std::span<const uint8_t> packet) {
    auto& c = server_->counters_;
    if (!take_tokens(packet.size())) {
      ++c.packets_dropped;
      return;
    }
    const auto it = server_->clients_.find(dst);
    if (it != server_->clients_.end()) {
      it->second->deliver(*key_, packet);
      return;
    }
    // At most one notice per destination per second, from a bounded memory.
    const auto now = Clock::now();
    auto& last = gone_sent_[dst];
    if (last != Clock::time_point{} && now - last < kPeerGoneInterval) return;
    last = now;
    if (gone_sent_.size() > kMaxPeerGoneMemory) gone_sent_.clear();
    const uint8_t reason = nat::kPeerGoneNotHere;
    if (stream_->write_frame(RelayFrame::kPeerGone, {dst.bytes, std::span(&reason, 1)})) {
      ++c.peer_gone_sent;
    }
  }

  bool take_tokens(size_t n) {
    const auto& o = server_->options_;
    const auto now = Clock::now();
    tokens_ = std::min(static_cast<double>(o.rate_burst_bytes),
                       tokens_ + std::chrono::duration<double>(now - last_refill_).count() *
                                     static_cast<double>(o.rate_bytes_per_second));
    last_refill_ = now;
    if (tokens_ < static_cast<double>(n)) return false;
    tokens_ -= static_cast<double>(n);
    return true;
  }

  void on_closed() {
    timer_.cancel();
    if (!server_) return;
    if (key_) {
      const auto it = server_->clients_.find(*key_);
      if (it != server_->clients_.end() && it->second.get() == this) server_->clients_.erase(it);
    }
    server_->connections_.erase(this);
  }

  RelayServer* server_;
  std::shared_ptr<RelayStream> stream_;
  asio::steady_timer timer_;
  Phase phase_ = Phase::kHttp;
  nat::ServerHello hello_{};
  std::optional<dataplane::PublicKey> key_;
  double tokens_;
  Clock::time_point last_refill_ = Clock::now();
  std::unordered_map<dataplane::PublicKey, Clock::time_point, KeyHash> gone_sent_;
  bool sent_since_keepalive_ = false;
};

RelayServer::RelayServer(asio::io_context& io, RelayServerOptions options)
    : io_(io),
      options_(std::move(options)),
      secret_(options_.key ? *options_.key : dataplane::generate_private_key()),
      public_key_(dataplane::public_key_of(secret_)),
      tls_(server_tls(options_)),
      acceptor_(io),
      accept_timer_(io),
      keepalive_timer_(io) {
  options_.key.reset();
  const asio::ip::tcp::endpoint ep(asio::ip::make_address(options_.listen.ip.to_string()),
                                   options_.listen.port);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen(1024);
  if (options_.stun_port) stun_.emplace(io, options_.stun_port);
  accept();
  keepalive();
}

RelayServer::~RelayServer() {
  asio::error_code ec;
  acceptor_.close(ec);
  keepalive_timer_.cancel();
  accept_timer_.cancel();
  auto all = std::move(connections_);
  connections_.clear();
  clients_.clear();
  for (auto& [_, c] : all) c->detach();
}

void RelayServer::accept() {
  acceptor_.async_accept([this](asio::error_code ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (ec) {
      // Out of descriptors or memory: try again later instead of spinning.
      accept_timer_.expires_after(kAcceptRetry);
      accept_timer_.async_wait([this](asio::error_code e) {
        if (!e) accept();
      });
      return;
    }
    ++counters_.connections;
    if (connections_.size() >= options_.max_clients + kMaxUnauthenticated) {
      ++counters_.clients_rejected_full;
      asio::error_code ignored;
      socket.close(ignored);
    } else {
      const RelayTls tls{tls_, true, {}};
      auto c = std::make_shared<Connection>(*this, std::move(socket), tls_ ? &tls : nullptr);
      connections_[c.get()] = c;
      c->start();
    }
    accept();
  });
}

void RelayServer::keepalive() {
  keepalive_timer_.expires_after(kKeepAliveInterval);
  keepalive_timer_.async_wait([this](asio::error_code ec) {
    if (ec) return;
    for (auto& [_, c] : clients_) c->keepalive();
    keepalive();
  });
}

nlohmann::json RelayServer::health() const {
  nlohmann::json j = {
      {"clients", clients_.size()},
      {"connections", connections_.size()},
      {"packets_forwarded", counters_.packets_forwarded},
      {"bytes_forwarded", counters_.bytes_forwarded},
      {"packets_dropped", counters_.packets_dropped},
      {"peer_gone_sent", counters_.peer_gone_sent},
      {"auth_failures", counters_.auth_failures},
      {"frames_rejected", counters_.frames_rejected},
      {"http_rejected", counters_.http_rejected},
      {"tls_failures", counters_.tls_failures},
      {"clients_rejected_full", counters_.clients_rejected_full},
      {"clients_replaced", counters_.clients_replaced},
      {"uptime_seconds",
       std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_)
           .count()},
  };
  j["stun_requests"] = stun_ ? stun_->requests() : 0;
  j["stun_rejected"] = stun_ ? stun_->rejected() : 0;
  return j;
}

}  // namespace qvpn::core
