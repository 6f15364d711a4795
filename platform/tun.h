#pragma once
// A layer-3 TUN interface: each read returns one IP packet sent by the kernel towards the
// tunnel, each write injects one IP packet into the kernel's stack. No packet-info header
// (IFF_NO_PI), so the first byte of every packet is the IP version nibble.
//
// With offloads (IFF_VNET_HDR and TUNSETOFFLOAD) every read and write instead starts with a
// 10-byte struct virtio_net_hdr, and the kernel may hand over TCP (and, from Linux 6.2, UDP)
// super-packets of up to 64 KiB with a partial checksum, which the reader must segment
// (dataplane/gso_split.h); writes may likewise carry coalesced TCP super-packets
// (dataplane/gro_coalesce.h).
#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace qvpn::platform {

// Used when the caller names no interface: the kernel picks the first free qvpn0, qvpn1, ...
inline constexpr std::string_view kDefaultTunPattern = "qvpn%d";

// True if the TUN character device can be opened. Creating an interface additionally needs
// CAP_NET_ADMIN, which this does not check.
bool tun_available();

// Owns one TUN interface through its file descriptor. The interface is not persistent: it
// disappears when the descriptor is closed (destruction), taking its addresses and routes
// with it. Move-only. Addresses, MTU and link state are set through netlink.h.
class TunDevice {
 public:
  // `name` is either an exact interface name ("wg0"), a pattern with one "%d" that the kernel
  // fills with the lowest free number ("qvpn%d"), or empty for kDefaultTunPattern. Attaching to
  // an existing persistent TUN of that name is allowed if it is not in use.
  // Throws std::system_error naming the device (ENAMETOOLONG beyond 15 characters, EPERM
  // without CAP_NET_ADMIN, EBUSY if the name is taken by a device in use or of another kind).
  // With `offload`, asks for the virtio_net_hdr framing and TSO/USO/checksum offloads;
  // offload() tells what was granted (false when the kernel refuses, e.g. no vnet header).
  static TunDevice create(std::string_view name = {}, bool offload = false);

  TunDevice(TunDevice&& other) noexcept;
  TunDevice& operator=(TunDevice&& other) noexcept;
  TunDevice(const TunDevice&) = delete;
  TunDevice& operator=(const TunDevice&) = delete;
  ~TunDevice();

  // The interface name the kernel assigned (the pattern resolved).
  const std::string& name() const { return name_; }
  // For poll/epoll. -1 after being moved from.
  int fd() const { return fd_; }
  // True when reads and writes carry a virtio_net_hdr and the kernel may send super-packets.
  bool offload() const { return offload_; }
  // True when the kernel may also send UDP super-packets (USO, Linux 6.2 and later).
  bool udp_offload() const { return udp_offload_; }

  // Reads one packet into `buf`; a packet longer than `buf` is truncated (size buffers to the
  // MTU). Returns its length, or -1 with errno (EAGAIN when non-blocking and empty, EINTR).
  ssize_t read(std::span<uint8_t> buf);
  // Writes one whole IPv4 or IPv6 packet. Returns bytes written, or -1 with errno.
  ssize_t write(std::span<const uint8_t> packet);
  // Throws std::system_error on failure.
  void set_nonblocking(bool on);

 private:
  TunDevice(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  void close();
  void enable_offloads();

  int fd_ = -1;
  std::string name_;
  bool offload_ = false;
  bool udp_offload_ = false;
};

}  // namespace qvpn::platform
