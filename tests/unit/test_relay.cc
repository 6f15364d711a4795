// The relay over loopback on one io_context: two clients exchange packets through it, an
// absent key yields PeerGone, a client that cannot prove its key and oversized frames are
// refused and counted, rate and queue limits drop only the offender's packets, max_clients
// holds, a reconnect replaces the old connection, a restarted relay is rejoined, /healthz
// and the STUN port answer, and all of it works over TLS. Every wait has a deadline.
#include <doctest/doctest.h>
#include <fmt/core.h>
#include <stdlib.h>

#include <asio.hpp>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/relay_client.h"
#include "core/relay_server.h"
#include "dataplane/x25519.h"
#include "nat/relay_protocol.h"
#include "nat/stun.h"

using namespace qvpn;
using namespace qvpn::core;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// Runs the loop until `done` or `limit`; returns whether `done` happened.
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
  o.stun_port = 0;
  return o;
}

// A UDP port free on IPv4 and IPv6 a moment ago.
uint16_t free_udp_port() {
  for (;;) {
    asio::io_context io;
    asio::ip::udp::socket v4(io, asio::ip::udp::endpoint(asio::ip::udp::v4(), 0));
    const uint16_t port = v4.local_endpoint().port();
    asio::ip::udp::socket v6(io);
    asio::error_code ec;
    v6.open(asio::ip::udp::v6(), ec);
    if (!ec) v6.set_option(asio::ip::v6_only(true), ec);
    if (!ec) v6.bind({asio::ip::address_v6::any(), port}, ec);
    if (ec != asio::error::address_in_use) return port;
  }
}

struct Node {
  dataplane::SecretKey secret = dataplane::generate_private_key();
  dataplane::PublicKey key = dataplane::public_key_of(secret);
  std::vector<std::pair<dataplane::PublicKey, std::vector<uint8_t>>> received;
  std::vector<dataplane::PublicKey> gone;
  std::vector<bool> states;
  std::unique_ptr<RelayClient> client;

  void connect(asio::io_context& io, uint16_t port, bool tls = false, fs::path ca = {},
               const std::string& host = "127.0.0.1") {
    client = std::make_unique<RelayClient>(
        io, RelayClientOptions{host + ":" + std::to_string(port), tls, std::move(ca)}, secret,
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

// A raw TCP client for what well-behaved clients never send, and for one that never reads.
struct Raw {
  asio::io_context& io;
  asio::ip::tcp::socket socket;
  std::vector<uint8_t> in;
  bool eof = false;

  Raw(asio::io_context& io, uint16_t port) : io(io), socket(io) {
    socket.connect({asio::ip::make_address("127.0.0.1"), port});
  }
  void send(std::string_view bytes) {
    asio::write(socket, asio::buffer(bytes.data(), bytes.size()));
  }
  void send(const std::vector<uint8_t>& bytes) { asio::write(socket, asio::buffer(bytes)); }
  // Runs the loop until `n` bytes have arrived in total (or the peer closed).
  bool receive(size_t n) {
    return run_until(io,
                     [&] {
                       asio::error_code ec;
                       const size_t ready = socket.available(ec);
                       if (ec) return eof = true;
                       if (ready) {
                         std::vector<uint8_t> buf(ready);
                         const size_t got = socket.read_some(asio::buffer(buf), ec);
                         if (ec) return eof = true;
                         in.insert(in.end(), buf.begin(),
                                   buf.begin() + static_cast<ptrdiff_t>(got));
                       } else {
                         // available() says 0 both for "nothing yet" and for a closed peer: peek to
                         // tell.
                         socket.non_blocking(true);
                         std::array<uint8_t, 1> b;
                         socket.receive(asio::buffer(b), asio::socket_base::message_peek, ec);
                         socket.non_blocking(false);
                         if (ec && ec != asio::error::would_block) eof = true;
                       }
                       return in.size() >= n || eof;
                     }) &&
           in.size() >= n;
  }
  // Upgrades and proves `secret` (or, with `prove_with`, signs with another key).
  bool handshake(const dataplane::SecretKey& secret,
                 const dataplane::SecretKey* prove_with = nullptr) {
    send("GET /relay HTTP/1.1\r\nHost: x\r\nUpgrade: qvpn-relay\r\nConnection: Upgrade\r\n\r\n");
    const std::string_view ok =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: qvpn-relay\r\nConnection: Upgrade\r\n\r\n";
    if (!receive(ok.size() + 5 + 65)) return false;
    if (std::string_view(reinterpret_cast<const char*>(in.data()), ok.size()) != ok) return false;
    const auto hello = nat::parse_server_hello(std::span(in).subspan(ok.size() + 5, 65));
    if (!hello) return false;
    in.clear();
    std::vector<uint8_t> frame;
    nat::append_relay_frame(frame, nat::RelayFrame::kClientHello,
                            {nat::client_hello_payload(*hello, prove_with ? *prove_with : secret,
                                                       dataplane::public_key_of(secret))});
    send(frame);
    return true;
  }
};

std::string http_get(asio::io_context& io, uint16_t port, const std::string& path) {
  Raw raw(io, port);
  raw.send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
  raw.receive(SIZE_MAX);
  return std::string(raw.in.begin(), raw.in.end());
}

// Self-signed certificates made by the openssl CLI: "relay" for 127.0.0.1 and localhost,
// "other" for other.test only.
struct Certs {
  fs::path dir;
  Certs() {
    std::string tmpl = (fs::temp_directory_path() / "qvpn-relay-tls-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()));
    dir = tmpl;
    for (const auto& [name, san] :
         {std::pair{"relay", "IP:127.0.0.1,DNS:localhost"}, std::pair{"other", "DNS:other.test"}}) {
      const std::string cmd = fmt::format(
          "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
          "-subj /CN=qvpn-test -addext subjectAltName={2} -keyout {0}/{1}.key "
          "-out {0}/{1}.pem >/dev/null 2>&1",
          dir.string(), name, san);
      REQUIRE(std::system(cmd.c_str()) == 0);
    }
  }
  ~Certs() { fs::remove_all(dir); }
};

// Connects two nodes' clients to the relay on `port`; true once both are through.
bool connect_both(asio::io_context& io, uint16_t port, Node& a, Node& b) {
  a.connect(io, port);
  b.connect(io, port);
  return run_until(io, [&] { return a.client->connected() && b.client->connected(); });
}

}  // namespace

TEST_CASE("relay: two clients exchange packets; an absent key gets PeerGone") {
  asio::io_context io;
  RelayServer server(io, loopback());
  Node a, b;
  REQUIRE(connect_both(io, server.port(), a, b));
  CHECK(server.clients() == 2);
  CHECK(a.states == std::vector<bool>{true});
  REQUIRE(a.client->server_key());
  CHECK(*a.client->server_key() == server.public_key());

  const std::vector<uint8_t> hello(1400, 0xab);
  for (int i = 0; i < 100; ++i) REQUIRE(a.client->send(b.key, hello));
  REQUIRE(b.client->send(a.key, std::vector<uint8_t>{1, 2, 3}));
  REQUIRE(run_until(io, [&] { return b.received.size() == 100 && a.received.size() == 1; }));
  CHECK(b.received[0].first == a.key);
  CHECK(b.received[99].second == hello);
  CHECK(a.received[0].first == b.key);
  CHECK(a.received[0].second == std::vector<uint8_t>{1, 2, 3});
  CHECK(server.counters().packets_forwarded == 101);
  CHECK(server.counters().bytes_forwarded == 100 * 1400 + 3);

  // Neither empty nor oversized packets leave the client.
  CHECK(!a.client->send(b.key, {}));
  CHECK(!a.client->send(b.key, std::vector<uint8_t>(65536, 1)));
  REQUIRE(a.client->send(b.key, std::vector<uint8_t>(65535, 1)));
  REQUIRE(run_until(io, [&] { return b.received.size() == 101; }));
  CHECK(b.received.back().second.size() == 65535);

  const auto absent = dataplane::public_key_of(dataplane::generate_private_key());
  REQUIRE(a.client->send(absent, hello));
  REQUIRE(a.client->send(absent, hello));
  REQUIRE(run_until(io, [&] { return !a.gone.empty(); }));
  io.run_for(50ms);
  CHECK(a.gone == std::vector<dataplane::PublicKey>{absent});  // at most one per second
  CHECK(server.counters().peer_gone_sent == 1);
  // The relay measured its round trip at once.
  REQUIRE(run_until(io, [&] { return a.client->latency().has_value(); }));

  // A client that goes away leaves nothing behind, and its peers get PeerGone for it.
  b.client.reset();
  REQUIRE(
      run_until(io, [&] { return server.clients() == 1 && server.health()["connections"] == 1; }));
  REQUIRE(a.client->send(b.key, hello));
  REQUIRE(run_until(io, [&] { return a.gone.size() == 2; }));
  CHECK(a.gone[1] == b.key);
}

TEST_CASE("relay: a client that cannot prove its key is refused and counted") {
  asio::io_context io;
  RelayServer server(io, loopback());
  const auto secret = dataplane::generate_private_key();
  const auto other = dataplane::generate_private_key();
  Raw raw(io, server.port());
  REQUIRE(raw.handshake(secret, &other));
  REQUIRE(run_until(io, [&] { return server.counters().auth_failures == 1; }));
  REQUIRE(raw.receive(SIZE_MAX - 1) == false);
  CHECK(raw.eof);
  // It was told why, in a Close frame, and then closed.
  const std::string_view reason = "key proof failed";
  std::vector<uint8_t> expected;
  nat::append_relay_frame(
      expected, nat::RelayFrame::kClose,
      {std::span(reinterpret_cast<const uint8_t*>(reason.data()), reason.size())});
  CHECK(raw.in == expected);
  CHECK(server.clients() == 0);

  // A SendPacket before the proof is a protocol error too.
  Raw eager(io, server.port());
  eager.send("GET /relay HTTP/1.1\r\nUpgrade: qvpn-relay\r\nConnection: upgrade\r\n\r\n");
  std::vector<uint8_t> frame;
  nat::append_relay_frame(frame, nat::RelayFrame::kSendPacket, {std::vector<uint8_t>(40, 1)});
  eager.send(frame);
  REQUIRE(run_until(io, [&] { return server.counters().frames_rejected == 1; }));
  CHECK(server.counters().packets_forwarded == 0);
}

TEST_CASE("relay: garbage, bad HTTP and oversized frames are rejected and counted; others go on") {
  asio::io_context io;
  RelayServer server(io, loopback());
  Node a, b;
  REQUIRE(connect_both(io, server.port(), a, b));

  Raw garbage(io, server.port());
  garbage.send(std::string(100, '\x07') + "\r\n\r\n");
  Raw post(io, server.port());
  post.send("POST /relay HTTP/1.1\r\n\r\n");
  Raw no_upgrade(io, server.port());
  no_upgrade.send("GET /relay HTTP/1.1\r\n\r\n");
  Raw endless(io, server.port());
  endless.send(std::string(9000, 'a'));
  REQUIRE(run_until(io, [&] { return server.counters().http_rejected == 4; }));
  CHECK(post.receive(12));
  CHECK(std::string(post.in.begin(), post.in.begin() + 12) == "HTTP/1.1 405");
  CHECK(no_upgrade.receive(12));
  CHECK(std::string(no_upgrade.in.begin(), no_upgrade.in.begin() + 12) == "HTTP/1.1 426");

  Node c;
  Raw big(io, server.port());
  REQUIRE(big.handshake(c.secret));
  REQUIRE(run_until(io, [&] { return server.clients() == 3; }));
  big.send(std::vector<uint8_t>{0x04, 0x00, 0x01, 0x00, 0x20});  // kMaxRelayPayload + 1
  REQUIRE(run_until(io, [&] { return server.counters().frames_rejected == 1; }));
  REQUIRE(run_until(io, [&] { return server.clients() == 2; }));

  // Unknown frame types are skipped; the connection stays.
  std::vector<uint8_t> future;
  nat::append_relay_frame(future, static_cast<nat::RelayFrame>(0x7e),
                          {std::vector<uint8_t>(100, 1)});
  Raw newer(io, server.port());
  REQUIRE(newer.handshake(c.secret));
  newer.send(future);
  REQUIRE(run_until(io, [&] { return server.clients() == 3; }));

  REQUIRE(a.client->send(b.key, std::vector<uint8_t>{9}));
  REQUIRE(run_until(io, [&] { return b.received.size() == 1; }));
  REQUIRE(a.client->send(c.key, std::vector<uint8_t>{9}));
  REQUIRE(newer.receive(5 + 32 + 1 + 5));  // ServerReady, then the packet
  CHECK(server.counters().frames_rejected == 1);
  CHECK(server.counters().auth_failures == 0);
}

TEST_CASE("relay: a sender over its rate loses its own packets") {
  asio::io_context io;
  auto options = loopback();
  options.rate_bytes_per_second = 10000;
  options.rate_burst_bytes = 10000;
  options.queue_bytes = 64 << 10;
  RelayServer server(io, options);
  Node a, b;
  REQUIRE(connect_both(io, server.port(), a, b));

  const std::vector<uint8_t> packet(1000, 1);
  for (int i = 0; i < 30; ++i) REQUIRE(a.client->send(b.key, packet));
  REQUIRE(run_until(io, [&] { return server.counters().packets_dropped >= 15; }));
  io.run_for(100ms);
  CHECK(b.received.size() >= 10);
  CHECK(b.received.size() <= 12);  // the burst, and what refilled meanwhile
}

TEST_CASE("relay: a reader that never reads loses only its own packets") {
  asio::io_context io;
  auto options = loopback();
  options.queue_bytes = 64 << 10;
  options.rate_bytes_per_second = options.rate_burst_bytes = 1ull
                                                             << 40;  // drops only from the queue
  RelayServer server(io, options);
  Node a, b, fast, stuck;
  a.connect(io, server.port());
  b.connect(io, server.port());
  fast.connect(io, server.port());
  Raw reader(io, server.port());
  REQUIRE(reader.handshake(stuck.secret));
  REQUIRE(run_until(io, [&] {
    return server.clients() == 4 && a.client->connected() && b.client->connected() &&
           fast.client->connected();
  }));

  // The kernel's socket buffers fill first, then the relay's queue for `stuck`, then drops.
  const std::vector<uint8_t> packet(1400, 1);
  const auto start = std::chrono::steady_clock::now();
  while (server.counters().packets_dropped == 0 && std::chrono::steady_clock::now() - start < 20s) {
    for (int i = 0; i < 64; ++i) fast.client->send(stuck.key, packet);
    io.poll();
  }
  REQUIRE(server.counters().packets_dropped > 0);
  REQUIRE(a.client->send(b.key, std::vector<uint8_t>{2}));
  REQUIRE(run_until(io, [&] { return b.received.size() == 1; }));
}

TEST_CASE("relay: max_clients holds; a second connection with the same key replaces the first") {
  asio::io_context io;
  auto options = loopback();
  options.max_clients = 2;
  RelayServer server(io, options);
  Node a, b, c;
  REQUIRE(connect_both(io, server.port(), a, b));
  c.connect(io, server.port());
  REQUIRE(run_until(io, [&] { return server.counters().clients_rejected_full >= 1; }));
  CHECK(!c.client->connected());
  c.client.reset();

  // a's node reconnects from a second client: the newer one gets a's packets, the old one
  // is told and closed.
  Node a2;
  a2.secret = a.secret;
  a2.key = a.key;
  a2.connect(io, server.port());
  REQUIRE(run_until(
      io, [&] { return server.counters().clients_replaced == 1 && a2.client->connected(); }));
  REQUIRE(run_until(io, [&] { return a.states.size() >= 2; }));
  CHECK(a.states[1] == false);
  a.client.reset();  // else it would come back and replace a2 in turn
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
  REQUIRE(run_until(
      io, [&] { return a.client->connected() && b.client->connected(); }, 10s));
  CHECK(a.states == std::vector<bool>{true, false, true});
  REQUIRE(a.client->send(b.key, std::vector<uint8_t>{7}));
  REQUIRE(run_until(io, [&] { return b.received.size() == 1; }));
}

TEST_CASE("relay: /healthz answers JSON; the STUN port answers Binding requests") {
  asio::io_context io;
  auto options = loopback();
  options.stun_port = free_udp_port();
  RelayServer server(io, options);
  REQUIRE(server.stun());
  CHECK(server.stun()->port() == options.stun_port);
  const std::string root = http_get(io, server.port(), "/");
  CHECK(root.starts_with("HTTP/1.1 200"));
  CHECK(root.ends_with("qvpn relay\n"));
  CHECK(http_get(io, server.port(), "/nope").starts_with("HTTP/1.1 404"));

  for (const char* address : {"127.0.0.1", "::1"}) {
    CAPTURE(address);
    const auto ip = asio::ip::make_address(address);
    if (ip.is_v6() && !server.stun()->ipv6()) continue;
    asio::ip::udp::socket udp(io, asio::ip::udp::endpoint(ip, 0));
    const auto txid = nat::new_stun_txid();
    const auto request = nat::stun_binding_request(txid);
    udp.send_to(asio::buffer(request), {ip, options.stun_port});
    std::array<uint8_t, 512> buf;
    size_t n = 0;
    asio::ip::udp::endpoint from;
    udp.async_receive_from(asio::buffer(buf), from, [&](asio::error_code, size_t got) { n = got; });
    REQUIRE(run_until(io, [&] { return n > 0; }));
    CHECK(from.address() == ip);  // from the address asked
    const auto r = nat::parse_stun_binding_response({buf.data(), n});
    REQUIRE(r);
    CHECK(r->txid == txid);
    CHECK(r->mapped.port == udp.local_endpoint().port());
    CHECK(r->mapped.ip.to_string() == address);
  }
  const uint64_t answered = server.stun()->requests();
  asio::ip::udp::socket udp(io, asio::ip::udp::endpoint(asio::ip::udp::v4(), 0));
  const std::vector<uint8_t> junk(40, 0);
  udp.send_to(asio::buffer(junk), {asio::ip::make_address("127.0.0.1"), options.stun_port});
  REQUIRE(run_until(io, [&] { return server.stun()->rejected() == 1; }));

  const std::string health = http_get(io, server.port(), "/healthz");
  REQUIRE(health.starts_with("HTTP/1.1 200"));
  CHECK(health.find("Content-Type: application/json\r\n") != std::string::npos);
  const auto body = nlohmann::json::parse(health.substr(health.find("\r\n\r\n") + 4));
  CHECK(body["clients"] == 0);
  CHECK(body["stun_requests"] == answered + 1);
  CHECK(body["stun_rejected"] == 1);
  CHECK(body["http_rejected"] == 1);  // the 404
  for (const char* k :
       {"packets_forwarded", "bytes_forwarded", "packets_dropped", "peer_gone_sent",
        "auth_failures", "frames_rejected", "clients_rejected_full", "uptime_seconds"}) {
    CHECK_MESSAGE(body.contains(k), k);
  }
}

TEST_CASE("relay over TLS: clients that trust the certificate exchange packets; others fail") {
  Certs certs;
  asio::io_context io;
  auto options = loopback();
  options.tls_cert = certs.dir / "relay.pem";
  options.tls_key = certs.dir / "relay.key";
  RelayServer server(io, options);
  REQUIRE(server.tls());
  Node a, b;
  a.connect(io, server.port(), true, certs.dir / "relay.pem");
  b.connect(io, server.port(), true, certs.dir / "relay.pem");
  REQUIRE(run_until(io, [&] { return a.client->connected() && b.client->connected(); }));
  const std::vector<uint8_t> packet(1200, 0x42);
  for (int i = 0; i < 50; ++i) REQUIRE(a.client->send(b.key, packet));
  REQUIRE(b.client->send(a.key, packet));
  REQUIRE(run_until(io, [&] { return b.received.size() == 50 && a.received.size() == 1; }));
  CHECK(b.received[49].second == packet);
  CHECK(b.received[0].first == a.key);

  // A client trusting another certificate, and one speaking plain TCP, get nowhere.
  Node wrong_ca, plain;
  wrong_ca.connect(io, server.port(), true, certs.dir / "other.pem");
  plain.connect(io, server.port());
  REQUIRE(run_until(io, [&] { return server.counters().tls_failures >= 2; }));
  io.run_for(100ms);
  CHECK(!wrong_ca.client->connected());
  CHECK(!plain.client->connected());
  CHECK(server.clients() == 2);

  // The certificate must name the host the client asked for: a DNS name (sent as SNI too)...
  Node by_name;
  by_name.connect(io, server.port(), true, certs.dir / "relay.pem", "localhost");
  REQUIRE(run_until(io, [&] { return by_name.client->connected(); }));
  // ...or an IP literal. other.pem is trusted here, but names only other.test.
  auto other_options = loopback();
  other_options.tls_cert = certs.dir / "other.pem";
  other_options.tls_key = certs.dir / "other.key";
  RelayServer other(io, other_options);
  Node mismatch;
  mismatch.connect(io, other.port(), true, certs.dir / "other.pem");
  REQUIRE(run_until(io, [&] { return other.counters().tls_failures >= 1; }));
  CHECK(!mismatch.client->connected());
  CHECK(other.clients() == 0);

  // A certificate without its key is a configuration error.
  auto half = loopback();
  half.tls_cert = options.tls_cert;
  CHECK_THROWS_AS([&] { RelayServer s(io, half); }(), std::runtime_error);
  half.tls_key = certs.dir / "missing.key";
  CHECK_THROWS_AS([&] { RelayServer s(io, half); }(), std::runtime_error);
}
