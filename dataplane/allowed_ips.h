#pragma once
// Cryptokey routing table (whitepaper 2): longest-prefix match from IP address to peer,
// for IPv4 and IPv6. A binary trie with path compression per family, in the spirit of the
// Linux module's allowedips.c. Not thread-safe: the owner serialises writes.
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "dataplane/ip_prefix.h"

namespace qvpn::dataplane {

using PeerId = uint32_t;  // 0 means "no peer"
inline constexpr PeerId kNoPeer = 0;

class AllowedIps {
 public:
  AllowedIps();
  ~AllowedIps();
  AllowedIps(AllowedIps&&) noexcept;
  AllowedIps& operator=(AllowedIps&&) noexcept;

  // Maps the prefix to peer, taking it from any other peer that had exactly this prefix.
  void insert(const IpPrefix& prefix, PeerId peer);
  // Removes the prefix if peer owns it; returns whether it did.
  bool remove(const IpPrefix& prefix, PeerId peer);
  void remove_peer(PeerId peer);
  void clear();

  PeerId lookup(const platform::IpAddress& addr) const;
  // Looks up the destination (by_source=false) or source address of an IPv4/IPv6 packet.
  // Returns kNoPeer for anything too short or not IP.
  PeerId lookup_packet(std::span<const uint8_t> ip_packet, bool by_source) const;

  // The prefixes a peer owns, in no particular order.
  std::vector<IpPrefix> prefixes_of(PeerId peer) const;
  size_t size() const;

 private:
  struct Node;
  std::unique_ptr<Node> root4_;
  std::unique_ptr<Node> root6_;
  size_t size_ = 0;
};

}  // namespace qvpn::dataplane
