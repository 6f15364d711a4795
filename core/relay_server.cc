#include "core/relay_server.h"

#include <fmt/core.h>
#include <sodium.h>

#include <cstring>

#include "core/relay_stream.h"
#include "dataplane/x25519.h"
#include "nat/http_head.h"
#include "nat/relay_protocol.h"

namespace qvpn::core {

namespace {

using Clock = std::chrono::steady_clock;
using nat::RelayFrame;

constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr auto kKeepAliveInterval = std::chrono::seconds(30);
constexpr auto kPeerGoneInterval = std::chrono::seconds(1);
constexpr size_t kMaxPeerGoneMemory = 1024;

std::string http_response(std::string_view status, std::string_view type, std::string_view body) {
  return fmt::format(
      "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
      status, type, body.size(), body);
}

std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

size_t RelayServer::KeyHash::operator()(const dataplane::PublicKey& k) const {
  size_t h;
  std::memcpy(&h, k.bytes.data(), sizeof h);
  return h;
}

class RelayServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(RelayServer& server, asio::ip::tcp::socket socket)
      : server_(&server),
        stream_(std::make_shared<RelayStream>(std::move(socket), server.options_.queue_bytes)),
        timer_(server.io_),
        tokens_(static_cast<double>(server.options_.rate_burst_bytes)) {}

  void start() {
    auto self = shared_from_this();
    stream_->start({
        .on_head = [self](std::string_view head) { return self->on_head(head); },
        .on_frame = [self](uint8_t type, std::span<const uint8_t> p) { self->on_frame(type, p); },
        .on_protocol_error =
            [self](std::string_view) {
              if (!self->server_) return;
              if (self->phase_ == Phase::kHttp) {
                ++self->server_->counters_.http_rejected;
              } else {
                ++self->server_->counters_.frames_rejected;
                self->send_close("protocol error");
              }
            },
        .on_closed = [self] { self->on_closed(); },
    });
    timer_.expires_after(kHandshakeTimeout);
    timer_.async_wait([weak = weak_from_this()](asio::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->phase_ == Phase::kReady) return;
      self->stream_->close();
    });
  }

  // The server is going away: close without touching it.
  void detach() {
    server_ = nullptr;
    stream_->close();
  }

  // A packet from `src` for this client.
  void deliver(const dataplane::PublicKey& src, std::span<const uint8_t> packet) {
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

  void keepalive() {
    if (phase_ == Phase::kReady) stream_->write_frame(RelayFrame::kKeepAlive, {});
  }

 private:
  enum class Phase { kHttp, kHello, kReady };

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
      stream_->write_raw(http_response("200 OK", "application/json", server_->health().dump() + "\n"));
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
        if (payload.size() == 8) stream_->write_frame(RelayFrame::kPong, {payload});
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
};

RelayServer::RelayServer(asio::io_context& io, RelayServerOptions options)
    : io_(io),
      options_(std::move(options)),
      secret_(options_.key ? *options_.key : dataplane::generate_private_key()),
      public_key_(dataplane::public_key_of(secret_)),
      acceptor_(io),
      keepalive_timer_(io) {
  options_.key.reset();
  const asio::ip::tcp::endpoint ep(asio::ip::make_address(options_.listen.ip.to_string()),
                                   options_.listen.port);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen(1024);
  accept();
  keepalive();
}

RelayServer::~RelayServer() {
  asio::error_code ec;
  acceptor_.close(ec);
  keepalive_timer_.cancel();
  auto all = std::move(connections_);
  connections_.clear();
  clients_.clear();
  for (auto& [_, c] : all) c->detach();
}

void RelayServer::accept() {
  acceptor_.async_accept([this](asio::error_code ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      ++counters_.connections;
      auto c = std::make_shared<Connection>(*this, std::move(socket));
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
      {"clients_rejected_full", counters_.clients_rejected_full},
      {"clients_replaced", counters_.clients_replaced},
      {"uptime_seconds",
       std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_)
           .count()},
  };
  if (extra_health_) j.update(extra_health_());
  return j;
}

}  // namespace qvpn::core
