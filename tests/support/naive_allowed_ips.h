#pragma once
// A deliberately naive cryptokey routing table for differential tests and fuzzers: a list
// of (prefix, peer) scanned in full for the longest matching prefix.
#include <algorithm>
#include <utility>
#include <vector>

#include "dataplane/allowed_ips.h"

namespace qvpn::test {

class NaiveAllowedIps {
 public:
  using IpPrefix = dataplane::IpPrefix;
  using PeerId = dataplane::PeerId;

  void insert(const IpPrefix& p, PeerId peer) {
    for (auto& e : entries_) {
      if (e.first == p) {
        e.second = peer;
        return;
      }
    }
    entries_.emplace_back(p, peer);
  }
  bool remove(const IpPrefix& p, PeerId peer) {
    const auto it = std::find(entries_.begin(), entries_.end(), std::pair{p, peer});
    if (it == entries_.end()) return false;
    entries_.erase(it);
    return true;
  }
  void remove_peer(PeerId peer) {
    std::erase_if(entries_, [peer](const auto& e) { return e.second == peer; });
  }
  PeerId lookup(const platform::IpAddress& a) const {
    PeerId best = dataplane::kNoPeer;
    int best_len = -1;
    for (const auto& [p, owner] : entries_) {
      if (p.addr.v6 == a.v6 && p.len > best_len && leading_bits_equal(p.addr, a, p.len)) {
        best = owner;
        best_len = p.len;
      }
    }
    return best;
  }
  std::vector<IpPrefix> prefixes_of(PeerId peer) const {
    std::vector<IpPrefix> out;
    for (const auto& [p, owner] : entries_) {
      if (owner == peer) out.push_back(p);
    }
    return out;
  }
  size_t size() const { return entries_.size(); }
  const std::vector<std::pair<IpPrefix, PeerId>>& entries() const { return entries_; }

  static bool leading_bits_equal(const platform::IpAddress& a, const platform::IpAddress& b,
                                 unsigned n) {
    for (unsigned i = 0; i < n; ++i) {
      if (((a.bytes[i / 8] ^ b.bytes[i / 8]) >> (7 - i % 8)) & 1) return false;
    }
    return true;
  }

 private:
  std::vector<std::pair<IpPrefix, PeerId>> entries_;
};

}  // namespace qvpn::test
