#include "core/node.h"

#include <fmt/core.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "platform/netlink.h"

namespace qvpn::core {
namespace {

// Bounds how long one readiness event may run, so the TUN and the socket take turns.
constexpr int kBurst = 256;
// The timer also wakes this often to follow MTU changes made with `ip link`.
constexpr auto kHousekeeping = std::chrono::seconds(1);

int dup_or_throw(int fd) {
  const int d = ::dup(fd);
  if (d < 0) throw std::system_error(errno, std::generic_category(), "dup");
  return d;
}

}  // namespace

Node::Node(asio::io_context& io, std::string_view ifname, uint16_t listen_port)
    : io_(io),
      tun_(platform::TunDevice::create(ifname)),
      udp_(platform::UdpSocket::bind(listen_port)),
      tun_wait_(io, dup_or_throw(tun_.fd())),
      udp_wait_(io, dup_or_throw(udp_.fd())),
      timer_(io),
      buf_(dataplane::kMaxMessageSize) {
  tun_.set_nonblocking(true);
  udp_.set_nonblocking(true);
}

Node::~Node() {
  stop();
  for (const auto& rule : rules_) {
    try {
      platform::del_rule(rule);
    } catch (const std::system_error& e) {
      fmt::print(stderr, "qvpn: {}: {}\n", name(), e.what());
    }
  }
}

void Node::start() {
  wait_tun();
  wait_udp();
  reschedule();
}

void Node::stop() {
  if (stopped_) return;
  stopped_ = true;
  asio::error_code ec;
  tun_wait_.close(ec);
  udp_wait_.close(ec);
  timer_.cancel();
}

void Node::send_datagram(std::span<const uint8_t> bytes, const platform::Endpoint& to) {
  // A full socket buffer or an unreachable network drops the datagram, as a router would;
  // WireGuard's timers recover.
  udp_.send_to(bytes, to);
}

void Node::write_tun(std::span<const uint8_t> ip_packet) { tun_.write(ip_packet); }

void Node::wait_tun() {
  tun_wait_.async_wait(asio::posix::stream_descriptor::wait_read, [this](asio::error_code ec) {
    if (ec || stopped_) return;
    drain_tun();
    if (!stopped_) wait_tun();
  });
}

void Node::wait_udp() {
  udp_wait_.async_wait(asio::posix::stream_descriptor::wait_read, [this](asio::error_code ec) {
    if (ec || stopped_) return;
    drain_udp();
    if (!stopped_) wait_udp();
  });
}

void Node::drain_tun() {
  for (int i = 0; i < kBurst; ++i) {
    const ssize_t n = tun_.read(buf_);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      // EBADFD: the interface was deleted (`ip link del`, `wg-quick down`).
      fmt::print(stderr, "qvpn: {}: interface gone ({}), stopping\n", name(),
                 std::generic_category().message(errno));
      stop();
      return;
    }
    device_.handle_tun_packet({buf_.data(), size_t(n)}, platform::MonoClock::now(), *this);
  }
  reschedule();
}

void Node::drain_udp() {
  platform::Endpoint from;
  for (int i = 0; i < kBurst; ++i) {
    const ssize_t n = udp_.recv_from(buf_, from);
    if (n < 0) break;  // EAGAIN, or an ICMP error surfaced on the socket: nothing to read
    device_.handle_datagram({buf_.data(), size_t(n)}, from, platform::MonoClock::now(), *this);
  }
  reschedule();
}

// Arms the timer for the device's next deadline, capped by the housekeeping interval.
void Node::reschedule() {
  if (stopped_) return;
  const auto now = platform::MonoClock::now();
  auto at = now + std::chrono::duration_cast<platform::Duration>(kHousekeeping);
  if (auto d = device_.next_deadline(); d && *d < at) at = *d;
  if (timer_at_ && *timer_at_ <= at) return;  // already armed early enough
  timer_at_ = at;
  timer_.expires_after(std::max(at - now, platform::Duration::zero()));
  timer_.async_wait([this](asio::error_code ec) {
    if (ec || stopped_) return;
    timer_at_.reset();
    on_timer();
  });
}

void Node::on_timer() {
  try {
    if (const int mtu = platform::link_info(name()).mtu; mtu > 0) device_.set_mtu(size_t(mtu));
  } catch (const std::system_error&) {
    // The link is going away; the TUN read reports it.
  }
  device_.tick(platform::MonoClock::now(), *this);
  reschedule();
}

bool Node::rebind(uint16_t port) {
  if (port != 0 && port == udp_.local_port()) return true;
  try {
    platform::UdpSocket fresh = platform::UdpSocket::bind(port);
    fresh.set_nonblocking(true);
    if (fwmark_) fresh.set_fwmark(fwmark_);
    asio::error_code ec;
    udp_wait_.close(ec);
    udp_ = std::move(fresh);
    udp_wait_.assign(dup_or_throw(udp_.fd()));
    if (!stopped_) wait_udp();
    return true;
  } catch (const std::system_error& e) {
    fmt::print(stderr, "qvpn: {}: {}\n", name(), e.what());
    return false;
  }
}

}  // namespace qvpn::core
