#include "core/relay_stream.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace qvpn::core {

RelayStream::RelayStream(asio::ip::tcp::socket socket, size_t queue_limit, const RelayTls* tls)
    : io_(std::in_place_type<asio::ip::tcp::socket>, std::move(socket)), queue_limit_(queue_limit) {
  asio::error_code ec;
  this->socket().set_option(asio::ip::tcp::no_delay(true), ec);
  if (!tls) {
    handshaken_ = true;
    return;
  }
  tls_context_ = tls->context;
  tls_server_ = tls->server;
  auto plain = std::move(std::get<asio::ip::tcp::socket>(io_));
  auto& stream = io_.emplace<TlsStream>(std::move(plain), *tls_context_);
  if (!tls->server && !tls->peer_name.empty()) {
    SSL* ssl = stream.native_handle();
    asio::ip::make_address(tls->peer_name, ec);
    if (!ec) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), tls->peer_name.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, tls->peer_name.c_str());
      SSL_set1_host(ssl, tls->peer_name.c_str());
    }
  }
}

asio::ip::tcp::socket::lowest_layer_type& RelayStream::socket() {
  return std::visit(
      [](auto& s) -> asio::ip::tcp::socket::lowest_layer_type& { return s.lowest_layer(); }, io_);
}

void RelayStream::start(Callbacks callbacks) {
  cb_ = std::move(callbacks);
  auto* tls = std::get_if<TlsStream>(&io_);
  if (!tls) return read();
  tls->async_handshake(tls_server_ ? TlsStream::server : TlsStream::client,
                       [self = shared_from_this()](asio::error_code ec) {
                         if (self->closed_) return;
                         if (ec) return self->fail(Error::kTls);
                         self->handshaken_ = true;
                         self->flush();
                         self->read();
                       });
}

void RelayStream::read() {
  if (closed_ || closing_) return;
  std::visit(
      [&](auto& s) {
        s.async_read_some(asio::buffer(in_),
                          [self = shared_from_this()](asio::error_code ec, size_t n) {
                            if (self->closed_) return;
                            if (ec) return self->close();
                            self->on_read(n);
                          });
      },
      io_);
}

void RelayStream::on_read(size_t n) {
  std::span<const uint8_t> bytes(in_.data(), n);
  if (in_head_) {
    // Keep at most one byte past the limit: enough to tell "too long" from "complete".
    const size_t before = head_.size();
    head_.append(reinterpret_cast<const char*>(bytes.data()),
                 std::min(bytes.size(), nat::kMaxHttpHead + 1 - before));
    const auto len = nat::http_head_length(head_);
    if (!len || *len > nat::kMaxHttpHead) {
      if (head_.size() > nat::kMaxHttpHead) return fail(Error::kBadHead);
      return read();
    }
    in_head_ = false;
    bytes = bytes.subspan(*len - before);
    head_.resize(*len);
    if (!cb_.on_head(head_) || closed_ || closing_) return;
  }
  for (;;) {
    bytes = bytes.subspan(reader_.feed(bytes));
    nat::RelayFrameReader::Frame frame;
    nat::RelayFrameReader::Status s;
    while ((s = reader_.next(frame)) == nat::RelayFrameReader::Status::kFrame) {
      cb_.on_frame(frame.type, frame.payload);
      if (closed_ || closing_) return;
    }
    if (s == nat::RelayFrameReader::Status::kTooLarge) return fail(Error::kFrameTooLarge);
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
  if (write_in_flight_ || closed_ || !handshaken_) return;
  if (pending_.empty()) {
    if (closing_) close();
    return;
  }
  writing_.swap(pending_);
  pending_.clear();
  write_in_flight_ = true;
  std::visit(
      [&](auto& s) {
        asio::async_write(s, asio::buffer(writing_),
                          [self = shared_from_this()](asio::error_code ec, size_t) {
                            self->write_in_flight_ = false;
                            self->writing_.clear();
                            if (ec) return self->close();
                            self->flush();
                          });
      },
      io_);
}

void RelayStream::close_after_writes() {
  closing_ = true;
  // Before the TLS handshake nothing can be written: close at once.
  if (!handshaken_) return close();
  flush();
}

void RelayStream::fail(Error error) {
  if (cb_.on_error) cb_.on_error(error);
  close_after_writes();
}

void RelayStream::close() {
  if (closed_) return;
  closed_ = true;
  asio::error_code ec;
  socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket().close(ec);
  pending_.clear();
  if (cb_.on_closed) cb_.on_closed();
}

}  // namespace qvpn::core
