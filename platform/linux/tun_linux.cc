#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include "platform/tun.h"

namespace qvpn::platform {
namespace {

constexpr const char* kTunPath = "/dev/net/tun";

[[noreturn]] void throw_errno(int err, std::string_view what) {
  throw std::system_error(err, std::system_category(), std::string(what));
}

void set_fd_nonblocking(int fd, bool on, std::string_view name) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) throw_errno(errno, "TUN " + std::string(name) + ": F_GETFL");
  flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (fcntl(fd, F_SETFL, flags) < 0) {
    throw_errno(errno, "TUN " + std::string(name) + ": F_SETFL");
  }
}

}  // namespace

bool tun_available() {
  int fd = ::open(kTunPath, O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

TunDevice TunDevice::create(std::string_view name, bool offload) {
  if (name.empty()) name = kDefaultTunPattern;
  // The kernel expands "%d" itself, so a pattern may be as long as the final name.
  if (name.size() >= IFNAMSIZ) {
    throw_errno(ENAMETOOLONG, "TUN " + std::string(name) + ": name longer than " +
                                  std::to_string(IFNAMSIZ - 1) + " characters");
  }
  int fd = ::open(kTunPath, O_RDWR | O_CLOEXEC);
  if (fd < 0) throw_errno(errno, "TUN " + std::string(name) + ": open " + kTunPath);

  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0);
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  int rc = ioctl(fd, TUNSETIFF, &ifr);
  if (rc < 0 && offload && errno == EINVAL) {  // no vnet headers here: plain packets
    offload = false;
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    rc = ioctl(fd, TUNSETIFF, &ifr);
  }
  if (rc < 0) {
    int err = errno;
    ::close(fd);
    throw_errno(err, "TUN " + std::string(name) + ": TUNSETIFF");
  }
  ifr.ifr_name[IFNAMSIZ - 1] = '\0';
  TunDevice tun(fd, std::string(ifr.ifr_name));
  if (offload) tun.enable_offloads();
  return tun;
}

// TSO and checksum offload need Linux 2.6.27; USO needs 6.2, so it is asked for separately.
// Without TSO the vnet header stays (reads carry an all-zero one) and packets are MTU-sized.
void TunDevice::enable_offloads() {
  constexpr unsigned kTcp = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
#if defined(TUN_F_USO4)
  constexpr unsigned kUdp = TUN_F_USO4 | TUN_F_USO6;
#else
  constexpr unsigned kUdp = 0x20 | 0x40;
#endif
  offload_ = true;
  if (ioctl(fd_, TUNSETOFFLOAD, kTcp | kUdp) == 0) {
    udp_offload_ = true;
    return;
  }
  ioctl(fd_, TUNSETOFFLOAD, kTcp);
}

TunDevice::TunDevice(TunDevice&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      name_(std::move(other.name_)),
      offload_(other.offload_),
      udp_offload_(other.udp_offload_) {}

TunDevice& TunDevice::operator=(TunDevice&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    name_ = std::move(other.name_);
    offload_ = other.offload_;
    udp_offload_ = other.udp_offload_;
  }
  return *this;
}

TunDevice::~TunDevice() { close(); }

void TunDevice::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

ssize_t TunDevice::read(std::span<uint8_t> buf) { return ::read(fd_, buf.data(), buf.size()); }

ssize_t TunDevice::write(std::span<const uint8_t> packet) {
  return ::write(fd_, packet.data(), packet.size());
}

void TunDevice::set_nonblocking(bool on) { set_fd_nonblocking(fd_, on, name_); }

}  // namespace qvpn::platform
