#pragma once
// The legacy struct virtio_net_hdr that a TUN opened with IFF_VNET_HDR puts before every packet
// it reads and expects before every packet written to it (include/uapi/linux/virtio_net.h).
// Its fields are in host byte order: the TUN uses the legacy (pre-virtio-1.0) layout unless
// TUNSETVNETLE/BE is set, which qvpn never does. The kernel header is deliberately not included
// here; gso_split.cc checks these constants against it.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace qvpn::dataplane {

inline constexpr size_t kVirtioNetHdrSize = 10;

// flags
// csum_start/csum_offset are set: the packet has a partial checksum, and the 16-bit field at
// csum_start + csum_offset holds the folded (not complemented) pseudo-header sum.
inline constexpr uint8_t kVirtioNetHdrFNeedsCsum = 1;
// The checksum was already verified (receive side only).
inline constexpr uint8_t kVirtioNetHdrFDataValid = 2;

// gso_type
inline constexpr uint8_t kVirtioNetHdrGsoNone = 0;
inline constexpr uint8_t kVirtioNetHdrGsoTcpv4 = 1;
inline constexpr uint8_t kVirtioNetHdrGsoUdp = 3;  // legacy UFO (IP fragments); never split here
inline constexpr uint8_t kVirtioNetHdrGsoTcpv6 = 4;
inline constexpr uint8_t kVirtioNetHdrGsoUdpL4 = 5;   // USO: UDP segmentation, Linux 6.2+
inline constexpr uint8_t kVirtioNetHdrGsoEcn = 0x80;  // OR-ed into a TCP type: CWR is set

struct VirtioNetHdr {
  uint8_t flags = 0;
  uint8_t gso_type = 0;
  uint16_t hdr_len = 0;      // bytes of headers (IP + L4); a hint, not to be trusted on read
  uint16_t gso_size = 0;     // payload bytes per segment
  uint16_t csum_start = 0;   // offset from the IP header where checksumming starts
  uint16_t csum_offset = 0;  // offset of the checksum field from csum_start
};

inline VirtioNetHdr read_virtio_net_hdr(std::span<const uint8_t, kVirtioNetHdrSize> in) {
  VirtioNetHdr h;
  h.flags = in[0];
  h.gso_type = in[1];
  std::memcpy(&h.hdr_len, in.data() + 2, 2);
  std::memcpy(&h.gso_size, in.data() + 4, 2);
  std::memcpy(&h.csum_start, in.data() + 6, 2);
  std::memcpy(&h.csum_offset, in.data() + 8, 2);
  return h;
}

inline void write_virtio_net_hdr(const VirtioNetHdr& h, std::span<uint8_t, kVirtioNetHdrSize> out) {
  out[0] = h.flags;
  out[1] = h.gso_type;
  std::memcpy(out.data() + 2, &h.hdr_len, 2);
  std::memcpy(out.data() + 4, &h.gso_size, 2);
  std::memcpy(out.data() + 6, &h.csum_start, 2);
  std::memcpy(out.data() + 8, &h.csum_offset, 2);
}

}  // namespace qvpn::dataplane
