#pragma once
// One relay connection's byte stream, for both ends (relay_server.cc, relay_client.cc): TCP,
// or TLS over TCP, carrying an HTTP head first and then frames (nat/relay_protocol.h) in
// both directions. Reads run until the stream closes; writes queue up to a limit (beyond it
// frames are refused, and the caller counts a drop) and go out as one write per batch, so a
// slow reader only ever fills its own queue.
#include <asio.hpp>
#include <asio/ssl.hpp>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "nat/http_head.h"
#include "nat/relay_protocol.h"

namespace qvpn::core {

// TLS for one end of a stream.
struct RelayTls {
  std::shared_ptr<asio::ssl::context> context;
  bool server = false;
  // A client's name for the server: its certificate must match it (a DNS name or an IP
  // literal), and a DNS name is sent as SNI.
  std::string peer_name;
};

class RelayStream : public std::enable_shared_from_this<RelayStream> {
 public:
  enum class Error { kTls, kBadHead, kFrameTooLarge };
  struct Callbacks {
    // The head, once complete; return true to read frames after it, false to stop reading.
    std::function<bool(std::string_view head)> on_head;
    std::function<void(uint8_t type, std::span<const uint8_t> payload)> on_frame;
    // The TLS handshake failed, garbage or too much where a head should be, a frame too large.
    std::function<void(Error error)> on_error;
    std::function<void()> on_closed;  // once, whatever the cause
  };

  RelayStream(asio::ip::tcp::socket socket, size_t queue_limit, const RelayTls* tls = nullptr);
  // Starts the TLS handshake if any, then reads the HTTP head, then frames. Nothing queued
  // is written before the handshake completes. No callback runs after on_closed. The
  // callbacks must not own this stream (its owner would never be freed); pending reads and
  // writes keep it alive until they complete.
  void start(Callbacks callbacks);

  // Queues raw bytes (the HTTP head). Always taken.
  void write_raw(std::string_view bytes);
  // Queues one frame; false when the queue is full (the frame is dropped) or closing.
  bool write_frame(nat::RelayFrame type, std::initializer_list<std::span<const uint8_t>> parts);
  // Sends what is queued, then closes. Reading stops at once.
  void close_after_writes();
  void close();
  bool closed() const { return closed_; }

 private:
  using TlsStream = asio::ssl::stream<asio::ip::tcp::socket>;
  asio::ip::tcp::socket::lowest_layer_type& socket();
  void read();
  void on_read(size_t n);
  void flush();
  void fail(Error error);

  std::variant<asio::ip::tcp::socket, TlsStream> io_;
  std::shared_ptr<asio::ssl::context> tls_context_;  // outlives the TLS stream
  bool tls_server_ = false;
  size_t queue_limit_;
  Callbacks cb_;
  std::array<uint8_t, 16384> in_;
  std::string head_;
  bool in_head_ = true;
  nat::RelayFrameReader reader_;
  std::vector<uint8_t> pending_;  // queued, not yet writing
  std::vector<uint8_t> writing_;  // being written
  bool handshaken_ = false;       // TLS done (or none): writes may start
  bool write_in_flight_ = false;
  bool closing_ = false;
  bool closed_ = false;
};

}  // namespace qvpn::core
