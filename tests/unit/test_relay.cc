// The relay over loopback on one io_context: two clients exchange packets through it, an
// absent key yields PeerGone, a client that cannot prove its key and oversized frames are
// refused and counted, max_clients holds, a reconnect replaces the old connection, a
// restarted relay is rejoined, and /healthz and the STUN port answer.
#include <doctest/doctest.h>

#include <asio.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/relay_client.h"
#include "core/relay_server.h"
#include "core/stun_server.h"
#include "dataplane/x25519.h"
#include "nat/relay_protocol.h"
#include "nat/stun.h"

using namespace qvpn;
using namespace qvpn::core;
using namespace std::chrono_literals;

namespace {

// Runs the loop until `done` or 5 s; returns whether `done` happened.
bool run_until(asio::io_context& io, const std::function<bool()>& done,
               std::chrono::milliseconds limit = 5000ms) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    io.run_for(5ms);
  }
  return true;
}

RelayServerOptions loopback(uint16_t port = 0) {
  RelayServerOptions o;
  o.listen = platform::Endpoint{*platform::IpAddress::parse("127.0.0.1"), port};
  return o;
}

struct Node {
  dataplane::SecretKey secret = dataplane::generate_private_key();
  dataplane::PublicKey key = dataplane::public_key_of(secret);
  std::vector<std::pair<dataplane::PublicKey, std::vector<uint8_t>>> received;
  std::vector<dataplane::PublicKey> gone;
  std::vector<bool> states;
  std::unique_ptr<RelayClient> client;

  void connect(asio::io_context& io, uint16_t port) {
    client = std::make_unique<RelayClient>(
        io, RelayClientOptions{"127.0.0.1:" + std::to_string(port)}, secret,
        RelayClient::Callbacks{
            .on_packet =
                [this](const dataplane::PublicKey& src, std::span<const uint8_t> p) {
                  received.emplace_back(src, std::vector<uint8_t>(p.begin(), p.end()));
                },
            .on_peer_gone = [this](const dataplane::PublicKey& k) { gone.push_back(k); },
            .on_state = [this](bool up) { states.push_back(up); },
        });
    client->start();
  }
};

// A raw TCP client for what well-behaved clients never send.
struct Raw {
  asio::ip::tcp::socket socket;
  Raw(asio::io_context& io, uint16_t port) : socket(io) {
    socket.connect({asio::ip::make_address("127.0.0.1"), port});
  }
  void send(std::string_view bytes) { asio::write(socket, asio::buffer(bytes.data(), bytes.size())); }
  void send(const std::vector<uint8_t>& bytes) { asio::write(socket, asio::buffer(bytes)); }
};

std::string http_get(asio::io_context& io, uint16_t port, const std::string& path) {
  std::string response;
  auto socket = std::make_shared<asio::ip::tcp::socket>(io);
  socket->connect({asio::ip::make_address("127.0.0.1"), port});
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
  asio::write(*socket, asio::buffer(request));
  bool done = false;
  auto buf = std::make_shared<std::array<char, 4096>>();
  std::function<void()> read = [&] {
    socket->async_read_some(asio::buffer(*buf), [&, buf](asio::error_code ec, size_t n) {
      response.append(buf->data(), n);
      if (ec) {
        done = true;
        return;
      }
      read();
    });
  };
  read();
  run_until(io, [&] { return done; });
  return response;
}

}  // namespace

TEST_CASE("relay: two clients exchange packets; an absent key gets PeerGone") {
  asio::io_context io;
  RelayServer server(io, loopback());
  Node a, b;
  a.connect(io, server.port());
  b.connect(io, server.port());
  REQUIRE(run_until(io, [&] { return a.client->connected() && b.client->connected(); }));
  CHECK(server.clients() == 2);
  CHECK(a.states == std::vector<bool>{true});

  const std::vector<uint8_t> hello(1400, 0xab);
  for (int i = 0; i < 100; ++i) REQUIRE(a.client->send(b.key, hello));
  REQUIRE(b.client->send(a.key, std::vector<uint8_t>{1, 2, 3}));
  REQUIRE(run_until(io, [&] { return b.received.size() == 100 && a.received.size() == 1; }));
  CHECK(b.received[0].first == a.key);
  CHECK(b.received[99].second == hello);
  CHECK(a.received[0].first == b.key);
  CHECK(server.counters().packets_forwarded == 101);
  CHECK(server.counters().bytes_forwarded == 100 * 1400 + 3);

  const auto absent = dataplane::public_key_of(dataplane::generate_private_key());
  REQUIRE(a.client->send(absent, hello));
  REQUIRE(a.client->send(absent, hello));
  REQUIRE(run_until(io, [&] { return !a.gone.empty(); }));
  io.run_for(50ms);
  CHECK(a.gone == std::vector<dataplane::PublicKey>{absent});  // at most one per second
  CHECK(server.counters().peer_gone_sent == 1);
  // The relay measured its round trip at once.
  REQUIRE(run_until(io, [&] { return a.client->latency().has_value(); }));
}

TEST_CASE("relay: a client that cannot prove its key is refused and counted") {
  asio::io_context io;
  RelayServer server(io, loopback());
  Raw raw(io, server.port());
  raw.send("GET /relay HTTP/1.1\r\nHost: x\r\nUpgrade: qvpn-relay\r\nConnection: Upgrade\r\n\r\n");
  // Claim a key and box the challenge with another: the proof fails.
  const auto claimed = dataplane::public_key_of(dataplane::generate_private_key());
  nat::ServerHello hello{server.public_key(), {}};
  auto payload = nat::client_hello_payload(hello, dataplane::generate_private_key(), claimed);
  std::vector<uint8_t> frame;
  nat::append_relay_frame(frame, nat::RelayFrame::kClientHello, {payload});
  raw.send(frame);
  REQUIRE(run_until(io, [&] { return server.counters().auth_failures == 1; }));
  CHECK(server.clients() == 0);
}

TEST_CASE("relay: garbage, bad HTTP and oversized frames are rejected and counted; others go on") {
  asio::io_context io;
  RelayServer server(io, loopback());
  Node a, b;
  a.connect(io, server.port());
  b.connect(io, server.port());
  REQUIRE(run_until(io, [&] { return a.client->connected() && b.client->connected(); }));

  Raw garbage(io, server.port());
  garbage.send(std::string(100, '\x07') + "\r\n\r\n");
  Raw post(io, server.port());
  post.send("POST /relay HTTP/1.1\r\n\r\n");
  Raw no_upgrade(io, server.port());
  no_upgrade.send("GET /relay HTTP/1.1\r\n\r\n");
  Raw endless(io, server.port());
  endless.send(std::string(9000, 'a'));
  REQUIRE(run_until(io, [&] { return server.counters().http_rejected == 4; }));

  Raw big(io, server.port());
  big.send("GET /relay HTTP/1.1\r\nUpgrade: qvpn-relay\r\nConnection: upgrade\r\n\r\n");
  big.send(std::vector<uint8_t>{0x04, 0x7f, 0xff, 0xff, 0xff});
  REQUIRE(run_until(io, [&] { return server.counters().frames_rejected == 1; }));

  REQUIRE(a.client->send(b.key, std::vector<uint8_t>{9}));
  REQUIRE(run_until(io, [&] { return b.received.size() == 1; }));
}

TEST_CASE("relay: max_clients holds; a second connection with the same key replaces the first") {
  asio::io_context io;
  auto options = loopback();
  options.max_clients = 2;
  RelayServer server(io, options);
  Node a, b, c;
  a.connect(io, server.port());
  b.connect(io, server.port());
  REQUIRE(run_until(io, [&] { return a.client->connected() && b.client->connected(); }));
  c.connect(io, server.port());
  REQUIRE(run_until(io, [&] { return server.counters().clients_rejected_full >= 1; }));
  CHECK(!c.client->connected());
  c.client.reset();

  // a's node reconnects from a second client: the newer one gets a's packets.
  Node a2;
  a2.secret = a.secret;
  a2.key = a.key;
  a2.connect(io, server.port());
  REQUIRE(run_until(io, [&] { return server.counters().clients_replaced == 1 && a2.client->connected(); }));
  REQUIRE(b.client->send(a.key, std::vector<uint8_t>{5}));
  REQUIRE(run_until(io, [&] { return a2.received.size() == 1; }));
  CHECK(server.clients() == 2);
}

TEST_CASE("relay: a restarted relay is rejoined and traffic resumes") {
  asio::io_context io;
  auto server = std::make_unique<RelayServer>(io, loopback());
  const uint16_t port = server->port();
  Node a, b;
  a.connect(io, port);
  b.connect(io, port);
  REQUIRE(run_until(io, [&] { return a.client->connected() && b.client->connected(); }));
  server.reset();
  REQUIRE(run_until(io, [&] { return !a.client->connected() && !b.client->connected(); }));
  server = std::make_unique<RelayServer>(io, loopback(port));
  REQUIRE(run_until(io, [&] { return a.client->connected() && b.client->connected(); }, 10s));
  CHECK(a.states == std::vector<bool>{true, false, true});
  REQUIRE(a.client->send(b.key, std::vector<uint8_t>{7}));
  REQUIRE(run_until(io, [&] { return b.received.size() == 1; }));
}

TEST_CASE("relay: /healthz answers JSON; the STUN port answers Binding requests") {
  asio::io_context io;
  RelayServer server(io, loopback());
  StunServer stun(io, 0);
  server.set_extra_health([&] { return stun.health(); });
  const std::string root = http_get(io, server.port(), "/");
  CHECK(root.starts_with("HTTP/1.1 200"));
  CHECK(root.ends_with("qvpn relay\n"));
  CHECK(http_get(io, server.port(), "/nope").starts_with("HTTP/1.1 404"));

  asio::ip::udp::socket udp(io, asio::ip::udp::endpoint(asio::ip::udp::v4(), 0));
  const auto txid = nat::new_stun_txid();
  const auto request = nat::stun_binding_request(txid);
  udp.send_to(asio::buffer(request), {asio::ip::make_address("127.0.0.1"), stun.port()});
  std::array<uint8_t, 512> buf;
  size_t n = 0;
  udp.async_receive(asio::buffer(buf), [&](asio::error_code, size_t got) { n = got; });
  REQUIRE(run_until(io, [&] { return n > 0; }));
  const auto r = nat::parse_stun_binding_response({buf.data(), n});
  REQUIRE(r);
  CHECK(r->txid == txid);
  CHECK(r->mapped.port == udp.local_endpoint().port());
  CHECK(r->mapped.ip.to_string() == "127.0.0.1");
  const std::vector<uint8_t> junk(40, 0);
  udp.send_to(asio::buffer(junk), {asio::ip::make_address("127.0.0.1"), stun.port()});
  REQUIRE(run_until(io, [&] { return stun.rejected() == 1; }));

  const std::string health = http_get(io, server.port(), "/healthz");
  REQUIRE(health.starts_with("HTTP/1.1 200"));
  const auto body = nlohmann::json::parse(health.substr(health.find("\r\n\r\n") + 4));
  CHECK(body["clients"] == 0);
  CHECK(body["stun_requests"] == 2);
  CHECK(body["stun_rejected"] == 1);
  for (const char* k : {"packets_forwarded", "bytes_forwarded", "packets_dropped", "auth_failures",
                        "frames_rejected", "http_rejected", "uptime_seconds"}) {
    CHECK_MESSAGE(body.contains(k), k);
  }
}
