#include "core/node.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <thread>

#include "platform/netlink.h"

namespace qvpn::core {
namespace {

// The timer also wakes this often to follow MTU changes made with `ip link`.
constexpr auto kHousekeeping = std::chrono::seconds(1);

int dup_or_throw(int fd) {
  const int d = ::dup(fd);
  if (d < 0) throw std::system_error(errno, std::generic_category(), "dup");
  return d;
}

// Half the cores: the kernel's side of every packet (TUN, UDP, TCP) needs CPU too, and on
// two cores a second crypto thread measured slower than one (docs/PERFORMANCE.md).
unsigned default_crypto_threads() { return std::max(1u, std::thread::hardware_concurrency() / 2); }

}  // namespace

Node::Node(asio::io_context& io, std::string_view ifname, uint16_t listen_port,
           const DataPathOptions& options)
    : io_(io),
      options_(options),
      tun_(platform::TunDevice::create(ifname, options.offload)),
      udp_(platform::UdpSocket::bind(listen_port)),
      tun_wait_(io, dup_or_throw(tun_.fd())),
      udp_wait_(io, dup_or_throw(udp_.fd())),
      timer_(io),
      crypto_(options.threads ? options.threads : default_crypto_threads()) {
  tun_.set_nonblocking(true);
  udp_.set_nonblocking(true);
  if (options_.offload) {
    udp_.enable_gso();
    udp_.enable_gro();
  }
  if (crypto_.threads() > 1) {
    device_.set_crypto_runner(
        [this](std::span<dataplane::AeadJob> jobs, bool seal) { crypto_.run(jobs, seal); });
  }
  allocate_buffers();
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
    if (const int mtu = platform::link_info(name()).mtu; mtu > 0) set_mtu(size_t(mtu));
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
    if (options_.offload) {
      fresh.enable_gso();
      fresh.enable_gro();
    }
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
