#include "core/uapi_server.h"

#include <fmt/core.h>
#include <sys/stat.h>

#include <memory>
#include <nlohmann/json.hpp>

namespace qvpn::core {
namespace {

// A set for tens of thousands of peers fits; anything longer is refused.
constexpr size_t kMaxRequestSize = 16 * 1024 * 1024;

std::string counters_text(Node& node) {
  const dataplane::DeviceCounters& c = node.counters();
  std::string out;
  auto line = [&out](const char* k, uint64_t v) { out += fmt::format("{}={}\n", k, v); };
  line("rx_datagrams", c.rx_datagrams);
  line("tx_datagrams", c.tx_datagrams);
  line("drop_malformed", c.drop_malformed);
  line("drop_bad_mac1", c.drop_bad_mac1);
  line("drop_rate_limited", c.drop_rate_limited);
  line("cookie_replies_sent", c.cookie_replies_sent);
  line("drop_unknown_peer", c.drop_unknown_peer);
  line("drop_handshake_invalid", c.drop_handshake_invalid);
  line("drop_unknown_index", c.drop_unknown_index);
  line("drop_expired_keypair", c.drop_expired_keypair);
  line("drop_decrypt", c.drop_decrypt);
  line("drop_replay", c.drop_replay);
  line("drop_source_not_allowed", c.drop_source_not_allowed);
  line("drop_inner_malformed", c.drop_inner_malformed);
  line("drop_no_route", c.drop_no_route);
  line("drop_tun_malformed", c.drop_tun_malformed);
  line("drop_no_endpoint", c.drop_no_endpoint);
  line("drop_staged_overflow", c.drop_staged_overflow);
  line("handshakes_initiated", c.handshakes_initiated);
  line("handshakes_completed", c.handshakes_completed);
  if (const NatTraversal* nat = node.nat()) {
    const NatCounters& n = nat->counters();
    line("disco_rx", n.disco_rx);
    line("drop_disco_malformed", n.drop_disco_malformed);
    line("drop_disco_unknown_sender", n.drop_disco_unknown_sender);
    line("drop_stun_malformed", n.drop_stun_malformed);
    line("drop_unknown_protocol", n.drop_unknown_protocol);
    line("drop_relay_unknown_sender", n.drop_relay_unknown_sender);
    line("drop_no_path", n.drop_no_path);
    line("drop_relay_send", n.drop_relay_send);
    line("relay_packets_rx", n.relay_packets_rx);
    line("relay_packets_tx", n.relay_packets_tx);
  }
  return out + "errno=0\n\n";
}

double ms(platform::Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

const char* kind_name(PeerPathStatus::Kind k) {
  switch (k) {
    case PeerPathStatus::Kind::kDirect:
      return "direct";
    case PeerPathStatus::Kind::kRelay:
      return "relay";
    case PeerPathStatus::Kind::kNone:
      break;
  }
  return "none";
}

// get=paths: the relays and each peer's path, as one line of JSON (`qvpn status`).
std::string paths_text(Node& node) {
  nlohmann::json j = {{"relays", nlohmann::json::array()}, {"peers", nlohmann::json::array()}};
  if (NatTraversal* nat = node.nat()) {
    if (const auto m = nat->port_mapping()) {
      j["port_mapping"] = {{"protocol", m->protocol}, {"external", m->external.to_string()}};
    }
    for (const auto& r : nat->relays()) {
      j["relays"].push_back({{"name", r.name},
                             {"address", r.address},
                             {"connected", r.connected},
                             {"home", r.home},
                             {"latency_ms", r.latency ? nlohmann::json(ms(*r.latency)) : nlohmann::json()}});
    }
    for (const auto& peer : node.uapi_state().peers) {
      const auto s = nat->path_of(peer.public_key);
      if (!s) continue;
      nlohmann::json path = {{"type", kind_name(s->kind)}, {"candidates", s->candidates}};
      if (s->kind == PeerPathStatus::Kind::kDirect) path["endpoint"] = s->endpoint.to_string();
      if (s->kind == PeerPathStatus::Kind::kRelay) path["relay"] = s->relay;
      if (!s->reason.empty()) path["reason"] = s->reason;
      path["rtt_ms"] = s->rtt ? nlohmann::json(ms(*s->rtt)) : nlohmann::json();
      j["peers"].push_back({{"public_key", dataplane::to_base64(peer.public_key.bytes)}, {"path", path}});
    }
  }
  return "json=" + j.dump() + "\nerrno=0\n\n";
}

std::string ping_text(const std::optional<PingReply>& r) {
  nlohmann::json j;
  if (!r) {
    j = {{"error", "no reply within 2 s"}};
  } else {
    j = {{"rtt_ms", ms(r->rtt)}, {"path", kind_name(r->path)}};
    if (r->path == PeerPathStatus::Kind::kDirect) j["endpoint"] = r->endpoint.to_string();
    if (r->path == PeerPathStatus::Kind::kRelay) j["relay"] = r->relay;
  }
  return "json=" + j.dump() + "\nerrno=0\n\n";
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(asio::local::stream_protocol::socket s, Node& node)
      : socket_(std::move(s)), node_(node), buf_(kMaxRequestSize) {}

  void read() {
    asio::async_read_until(socket_, buf_, "\n\n",
                           [self = shared_from_this()](asio::error_code ec, size_t n) {
                             if (ec) return;  // closed, or the request was too long
                             std::string request(n - 2, '\0');
                             self->buf_.sgetn(request.data(), request.size());
                             self->buf_.consume(2);
                             if (request.starts_with("ping=")) return self->ping(request.substr(5));
                             self->reply(UapiServer::respond(self->node_, request));
                           });
  }

 private:
  // ping=HEXKEY: answered when the pong arrives, or after the timeout.
  void ping(std::string_view hex) {
    const auto key = dataplane::key_from_hex(hex);
    NatTraversal* nat = node_.nat();
    if (!key || !nat) return reply(format_uapi_errno(kUapiErrorInvalid));
    nat->ping(dataplane::PublicKey{*key},
              [self = shared_from_this()](std::optional<PingReply> r) { self->reply(ping_text(r)); });
  }

  void reply(std::string text) {
    auto out = std::make_shared<std::string>(std::move(text));
    asio::async_write(socket_, asio::buffer(*out),
                      [self = shared_from_this(), out](asio::error_code ec, size_t) {
                        if (!ec) self->read();
                      });
  }

  asio::local::stream_protocol::socket socket_;
  Node& node_;
  asio::streambuf buf_;
};

}  // namespace

UapiServer::UapiServer(asio::io_context& io, Node& node, const std::filesystem::path& dir)
    : acceptor_(io), node_(node), path_(dir / (node.name() + ".sock")) {
  std::filesystem::create_directories(dir);
  ::chmod(dir.c_str(), 0755);
  if (std::filesystem::exists(path_)) {
    asio::local::stream_protocol::socket probe(io);
    asio::error_code ec;
    probe.connect(path_.string(), ec);
    if (!ec) {
      throw std::system_error(EADDRINUSE, std::generic_category(),
                              fmt::format("{} is in use by another process", path_.string()));
    }
    std::filesystem::remove(path_);
  }
  const mode_t old = ::umask(0077);  // the socket grants control of the interface: root only
  acceptor_.open();
  asio::error_code ec;
  acceptor_.bind(path_.string(), ec);
  ::umask(old);
  if (ec) throw std::system_error(ec, path_.string());
  acceptor_.listen();
  accept();
}

UapiServer::~UapiServer() {
  asio::error_code ec;
  acceptor_.close(ec);
  std::filesystem::remove(path_, ec);
}

void UapiServer::accept() {
  acceptor_.async_accept([this](asio::error_code ec, asio::local::stream_protocol::socket s) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) std::make_shared<Session>(std::move(s), node_)->read();
    accept();
  });
}

std::string UapiServer::respond(Node& node, std::string_view request) {
  const auto nl = request.find('\n');
  const std::string_view op = request.substr(0, nl);
  const std::string_view body = nl == std::string_view::npos ? "" : request.substr(nl + 1);
  if (op == "get=1") return format_uapi_get(node.uapi_state());
  if (op == "get=qvpn") return counters_text(node);
  if (op == "get=paths") return paths_text(node);
  if (op == "set=1") {
    auto parsed = parse_uapi_set(body);
    if (auto* err = std::get_if<UapiError>(&parsed)) {
      fmt::print(stderr, "qvpn: {}: uapi: {}\n", node.name(), err->message);
      return format_uapi_errno(err->errno_value);
    }
    return format_uapi_errno(node.uapi_set(std::get<UapiSet>(parsed)));
  }
  return format_uapi_errno(kUapiErrorInvalid);
}

}  // namespace qvpn::core
