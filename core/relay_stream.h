#pragma once
// One relay connection's byte stream, for both ends (relay_server.cc, relay_client.cc): an
// HTTP head first, then frames (nat/relay_protocol.h) in both directions. Reads run until
// the stream closes; writes queue up to a limit (beyond it frames are refused, and the
// caller counts a drop) and go out in one write per batch.
#include <asio.hpp>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nat/http_head.h"
#include "nat/relay_protocol.h"

namespace qvpn::core {

class RelayStream : public std::enable_shared_from_this<RelayStream> {
 public:
  struct Callbacks {
    // The head, once complete; return true to read frames after it, false to stop reading.
    std::function<bool(std::string_view head)> on_head;
    std::function<void(uint8_t type, std::span<const uint8_t> payload)> on_frame;
    // Garbage where a head should be, a head too long, or a frame too large.
    std::function<void(std::string_view why)> on_protocol_error;
    std::function<void()> on_closed;  // once, whatever the cause
  };

  RelayStream(asio::ip::tcp::socket socket, size_t queue_limit);
  // Starts reading: the HTTP head, then frames. No callback runs after on_closed.
  void start(Callbacks callbacks);

  // Queues raw bytes (the HTTP head). Always taken.
  void write_raw(std::string_view bytes);
  // Queues one frame; false when the queue is full (the frame is dropped).
  bool write_frame(nat::RelayFrame type, std::initializer_list<std::span<const uint8_t>> parts);
  // Sends what is queued, then closes. Reading stops at once.
  void close_after_writes();
  void close();
  bool closed() const { return closed_; }
  asio::ip::tcp::endpoint remote() const;

 private:
  void read();
  void on_read(size_t n);
  void flush();
  void fail(std::string_view why);

  asio::ip::tcp::socket socket_;
  size_t queue_limit_;
  Callbacks cb_;
  std::array<uint8_t, 16384> in_;
  std::string head_;
  bool in_head_ = true;
  nat::RelayFrameReader reader_;
  std::vector<uint8_t> pending_;  // queued, not yet writing
  std::vector<uint8_t> writing_;  // being written
  bool write_in_flight_ = false;
  bool closing_ = false;
  bool closed_ = false;
};

}  // namespace qvpn::core
