#include "core/relay_stream.h"

namespace qvpn::core {

RelayStream::RelayStream(asio::ip::tcp::socket socket, size_t queue_limit)
    : socket_(std::move(socket)), queue_limit_(queue_limit) {
  asio::error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
}

void RelayStream::start(Callbacks callbacks) {
  cb_ = std::move(callbacks);
  read();
}

asio::ip::tcp::endpoint RelayStream::remote() const {
  asio::error_code ec;
  return socket_.remote_endpoint(ec);
}

void RelayStream::read() {
  if (closed_ || closing_) return;
  socket_.async_read_some(asio::buffer(in_),
                          [self = shared_from_this()](asio::error_code ec, size_t n) {
                            if (ec) {
                              self->close();
                              return;
                            }
                            self->on_read(n);
                          });
}

void RelayStream::on_read(size_t n) {
  std::span<const uint8_t> bytes(in_.data(), n);
  if (in_head_) {
    const size_t before = head_.size();
    head_.append(reinterpret_cast<const char*>(bytes.data()),
                 std::min(bytes.size(), nat::kMaxHttpHead + 4 - before));
    const auto len = nat::http_head_length(head_);
    if (!len) {
      if (head_.size() > nat::kMaxHttpHead) return fail("HTTP head too long");
      return read();
    }
    in_head_ = false;
    bytes = bytes.subspan(*len - before);
    head_.resize(*len);
    if (!cb_.on_head(head_) || closed_ || closing_) return;
  }
  for (;;) {
    const size_t took = reader_.feed(bytes);
    bytes = bytes.subspan(took);
    nat::RelayFrameReader::Frame frame;
    nat::RelayFrameReader::Status s;
    while ((s = reader_.next(frame)) == nat::RelayFrameReader::Status::kFrame) {
      cb_.on_frame(frame.type, frame.payload);
      if (closed_ || closing_) return;
    }
    if (s == nat::RelayFrameReader::Status::kTooLarge) return fail("frame too large");
    if (bytes.empty()) break;
  }
  read();
}

void RelayStream::write_raw(std::string_view bytes) {
  pending_.insert(pending_.end(), bytes.begin(), bytes.end());
  flush();
}

bool RelayStream::write_frame(nat::RelayFrame type,
                              std::initializer_list<std::span<const uint8_t>> parts) {
  if (closed_ || closing_) return false;
  if (pending_.size() + writing_.size() > queue_limit_) return false;
  nat::append_relay_frame(pending_, type, parts);
  flush();
  return true;
}

void RelayStream::flush() {
  if (write_in_flight_ || closed_) return;
  if (pending_.empty()) {
    if (closing_) close();
    return;
  }
  writing_.swap(pending_);
  pending_.clear();
  write_in_flight_ = true;
  asio::async_write(socket_, asio::buffer(writing_),
                    [self = shared_from_this()](asio::error_code ec, size_t) {
                      self->write_in_flight_ = false;
                      self->writing_.clear();
                      if (ec) {
                        self->close();
                        return;
                      }
                      self->flush();
                    });
}

void RelayStream::close_after_writes() {
  closing_ = true;
  flush();
}

void RelayStream::fail(std::string_view why) {
  if (cb_.on_protocol_error) cb_.on_protocol_error(why);
  close_after_writes();
}

void RelayStream::close() {
  if (closed_) return;
  closed_ = true;
  asio::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  pending_.clear();
  if (cb_.on_closed) cb_.on_closed();
  // Drop the owners' captures (which may own this stream) once no callback is running.
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->cb_ = {}; });
}

}  // namespace qvpn::core
