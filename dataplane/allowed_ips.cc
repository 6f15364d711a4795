#include "dataplane/allowed_ips.h"

#include <algorithm>
#include <bit>
#include <utility>

// Shape of the trie (per family), as in the Linux module's allowedips.c:
//  - Each node holds a prefix (key, cidr); a child's prefix extends its parent's, and the
//    child sits in slot bit(key, parent.cidr), so cidr strictly grows going down.
//  - Paths are compressed: a node exists only if it carries a peer or if it is the branch
//    point of exactly two subtrees. Hence nodes <= 2 * prefixes, whatever the churn, and
//    depth <= 129, so recursion over the trie is bounded.
//  - Keys are two big-endian 64-bit words so matching is a few masks and one countl_zero;
//    IPv4 lives in the top 32 bits of word 0.

namespace qvpn::dataplane {

namespace {

using Key = std::array<uint64_t, 2>;

uint64_t load_be64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

Key key_of(const uint8_t* bytes, bool v6) {
  if (v6) return {load_be64(bytes), load_be64(bytes + 8)};
  const uint64_t v4 = (uint64_t{bytes[0]} << 24) | (uint64_t{bytes[1]} << 16) |
                      (uint64_t{bytes[2]} << 8) | bytes[3];
  return {v4 << 32, 0};
}

uint64_t top_mask(unsigned bits) { return bits == 0 ? 0 : ~uint64_t{0} << (64 - bits); }

// Keeps the first `cidr` bits of `k`.
Key masked(const Key& k, unsigned cidr) {
  return {k[0] & top_mask(std::min(cidr, 64u)), k[1] & top_mask(cidr > 64 ? cidr - 64 : 0)};
}

// Number of leading bits a and b share.
unsigned common_bits(const Key& a, const Key& b) {
  if (const uint64_t x = a[0] ^ b[0]) return std::countl_zero(x);
  if (const uint64_t x = a[1] ^ b[1]) return 64 + std::countl_zero(x);
  return 128;
}

unsigned bit_at(const Key& k, unsigned i) { return (k[i / 64] >> (63 - i % 64)) & 1; }

}  // namespace

struct AllowedIps::Node {
  using Ptr = std::unique_ptr<Node>;

  Key key{};  // host bits zero
  uint8_t cidr = 0;
  PeerId peer = kNoPeer;
  Node* parent = nullptr;
  Ptr child[2];

  bool holds(const Key& k) const { return masked(k, cidr) == key; }
  // A peerless node must be a branch point; anything less is pruned.
  bool redundant() const { return peer == kNoPeer && !(child[0] && child[1]); }

  // The owning pointer to this node: its parent's child slot, or the family root.
  Ptr& slot(Ptr& root) {
    if (!parent) return root;
    return parent->child[0].get() == this ? parent->child[0] : parent->child[1];
  }

  // Replaces a redundant node in `slot` by its only child, or by nothing. Returns whether it
  // had a child (then the parent's shape is unchanged).
  static bool splice_out(Ptr& slot) {
    Node* parent = slot->parent;
    Ptr only = std::move(slot->child[0] ? slot->child[0] : slot->child[1]);
    const bool had_child = only != nullptr;
    if (only) only->parent = parent;
    slot = std::move(only);
    return had_child;
  }

  static PeerId lookup(const Node* n, const Key& key, unsigned width) {
    PeerId best = kNoPeer;
    while (n && n->holds(key)) {
      if (n->peer != kNoPeer) best = n->peer;
      if (n->cidr == width) break;
      n = n->child[bit_at(key, n->cidr)].get();
    }
    return best;
  }

  // Clears `peer` from the subtree in `slot` and prunes it bottom-up. Returns how many
  // prefixes it removed.
  static size_t strip_peer(Ptr& slot, PeerId peer) {
    if (!slot) return 0;
    Node* n = slot.get();
    size_t removed = strip_peer(n->child[0], peer) + strip_peer(n->child[1], peer);
    if (n->peer == peer) {
      n->peer = kNoPeer;
      ++removed;
    }
    if (n->redundant()) splice_out(slot);
    return removed;
  }

  void collect(PeerId owner, bool v6, std::vector<IpPrefix>& out) const {
    if (peer == owner) {
      IpPrefix p;
      p.addr.v6 = v6;
      for (unsigned i = 0; i < p.addr.size(); ++i) {
        p.addr.bytes[i] = static_cast<uint8_t>(key[i / 8] >> (56 - 8 * (i % 8)));
      }
      p.len = cidr;
      out.push_back(p);
    }
    for (const Ptr& c : child) {
      if (c) c->collect(owner, v6, out);
    }
  }
};

AllowedIps::AllowedIps() = default;
AllowedIps::~AllowedIps() = default;

AllowedIps::AllowedIps(AllowedIps&& other) noexcept
    : root4_(std::move(other.root4_)),
      root6_(std::move(other.root6_)),
      size_(std::exchange(other.size_, 0)) {}

AllowedIps& AllowedIps::operator=(AllowedIps&& other) noexcept {
  root4_ = std::move(other.root4_);
  root6_ = std::move(other.root6_);
  size_ = std::exchange(other.size_, 0);
  return *this;
}

void AllowedIps::insert(const IpPrefix& prefix, PeerId peer) {
  const unsigned width = prefix.addr.v6 ? 128 : 32;
  // A peerless leaf would break the "peer or branch point" invariant.
  if (peer == kNoPeer || prefix.len > width) return;
  const unsigned cidr = prefix.len;
  const Key key = masked(key_of(prefix.addr.bytes.data(), prefix.addr.v6), cidr);

  // Descend through the nodes whose prefix covers ours.
  Node* parent = nullptr;
  Node::Ptr* slot = prefix.addr.v6 ? &root6_ : &root4_;
  while (*slot && (*slot)->cidr <= cidr && (*slot)->holds(key)) {
    Node* n = slot->get();
    if (n->cidr == cidr) {
      if (n->peer == kNoPeer) ++size_;
      n->peer = peer;
      return;
    }
    parent = n;
    slot = &n->child[bit_at(key, n->cidr)];
  }

  auto fresh = std::make_unique<Node>();
  fresh->key = key;
  fresh->cidr = static_cast<uint8_t>(cidr);
  fresh->peer = peer;
  ++size_;
  if (!*slot) {
    fresh->parent = parent;
    *slot = std::move(fresh);
    return;
  }

  // *slot diverges from our prefix somewhere below parent: either ours is an ancestor of
  // it, or both hang off a new branch node at their common length.
  Node::Ptr existing = std::move(*slot);
  const unsigned common =
      std::min({common_bits(key, existing->key), cidr, unsigned{existing->cidr}});
  if (common == cidr) {
    existing->parent = fresh.get();
    fresh->parent = parent;
    fresh->child[bit_at(existing->key, cidr)] = std::move(existing);
    *slot = std::move(fresh);
    return;
  }
  auto branch = std::make_unique<Node>();
  branch->key = masked(key, common);
  branch->cidr = static_cast<uint8_t>(common);
  branch->parent = parent;
  existing->parent = branch.get();
  fresh->parent = branch.get();
  const unsigned fresh_side = bit_at(key, common);
  branch->child[fresh_side] = std::move(fresh);
  branch->child[!fresh_side] = std::move(existing);
  *slot = std::move(branch);
}

bool AllowedIps::remove(const IpPrefix& prefix, PeerId peer) {
  const unsigned width = prefix.addr.v6 ? 128 : 32;
  if (peer == kNoPeer || prefix.len > width) return false;
  const unsigned cidr = prefix.len;
  const Key key = masked(key_of(prefix.addr.bytes.data(), prefix.addr.v6), cidr);
  Node::Ptr& root = prefix.addr.v6 ? root6_ : root4_;

  Node* n = root.get();
  while (n && n->cidr < cidr && n->holds(key)) n = n->child[bit_at(key, n->cidr)].get();
  if (!n || n->cidr != cidr || n->key != key || n->peer != peer) return false;
  n->peer = kNoPeer;
  --size_;

  // Restore the invariant upwards: splicing out a node with one child leaves its parent's
  // shape unchanged; dropping a leaf leaves its parent one child short, so look at it next.
  while (n && n->redundant()) {
    Node* parent = n->parent;
    if (Node::splice_out(n->slot(root))) break;
    n = parent;
  }
  return true;
}

void AllowedIps::remove_peer(PeerId peer) {
  if (peer == kNoPeer) return;
  size_ -= Node::strip_peer(root4_, peer);
  size_ -= Node::strip_peer(root6_, peer);
}

void AllowedIps::clear() {
  root4_.reset();
  root6_.reset();
  size_ = 0;
}

PeerId AllowedIps::lookup(const platform::IpAddress& addr) const {
  return addr.v6 ? Node::lookup(root6_.get(), key_of(addr.bytes.data(), true), 128)
                 : Node::lookup(root4_.get(), key_of(addr.bytes.data(), false), 32);
}

PeerId AllowedIps::lookup_packet(std::span<const uint8_t> ip_packet, bool by_source) const {
  // Address offsets in the fixed IPv4 (RFC 791) and IPv6 (RFC 8200) headers.
  if (ip_packet.empty()) return kNoPeer;
  const unsigned version = ip_packet[0] >> 4;
  if (version == 4 && ip_packet.size() >= 20) {
    const uint8_t* addr = ip_packet.data() + (by_source ? 12 : 16);
    return Node::lookup(root4_.get(), key_of(addr, false), 32);
  }
  if (version == 6 && ip_packet.size() >= 40) {
    const uint8_t* addr = ip_packet.data() + (by_source ? 8 : 24);
    return Node::lookup(root6_.get(), key_of(addr, true), 128);
  }
  return kNoPeer;
}

std::vector<IpPrefix> AllowedIps::prefixes_of(PeerId peer) const {
  std::vector<IpPrefix> out;
  if (peer == kNoPeer) return out;
  if (root4_) root4_->collect(peer, false, out);
  if (root6_) root6_->collect(peer, true, out);
  return out;
}

size_t AllowedIps::size() const { return size_; }

}  // namespace qvpn::dataplane
