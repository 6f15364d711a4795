#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <random>
#include <utility>
#include <vector>

#include "dataplane/allowed_ips.h"
#include "support/naive_allowed_ips.h"

using qvpn::dataplane::AllowedIps;
using qvpn::dataplane::IpPrefix;
using qvpn::dataplane::kNoPeer;
using qvpn::dataplane::PeerId;
using qvpn::platform::IpAddress;

namespace {

IpAddress ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddress ip;
  ip.bytes = {a, b, c, d};
  return ip;
}

// Four big-endian 32-bit words, as the Linux selftest writes IPv6 addresses.
IpAddress ip6(uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
  IpAddress ip;
  ip.v6 = true;
  const uint32_t words[4] = {a, b, c, d};
  for (int w = 0; w < 4; ++w) {
    for (int i = 0; i < 4; ++i)
      ip.bytes[w * 4 + i] = static_cast<uint8_t>(words[w] >> (24 - 8 * i));
  }
  return ip;
}

// The table's insertions pass addresses with host bits set on purpose ("maskself").
IpPrefix pfx(const IpAddress& a, uint8_t len) { return IpPrefix::of(a, len); }

using NaiveTable = qvpn::test::NaiveAllowedIps;

bool prefix_less(const IpPrefix& a, const IpPrefix& b) {
  return std::tie(a.addr.v6, a.addr.bytes, a.len) < std::tie(b.addr.v6, b.addr.bytes, b.len);
}

std::vector<IpPrefix> sorted(std::vector<IpPrefix> v) {
  std::sort(v.begin(), v.end(), prefix_less);
  return v;
}

// Peers named as in the Linux selftest.
constexpr PeerId a = 1, b = 2, c = 3, d = 4, e = 5, f = 6, g = 7, h = 8;

}  // namespace

TEST_CASE("ported allowedips selftest table") {
  AllowedIps t;
  t.insert(pfx(ip4(192, 168, 4, 0), 24), a);
  t.insert(pfx(ip4(192, 168, 4, 4), 32), b);
  t.insert(pfx(ip4(192, 168, 0, 0), 16), c);
  t.insert(pfx(ip4(192, 95, 5, 64), 27), d);
  t.insert(pfx(ip4(192, 95, 5, 65), 27), c);  // same prefix once masked: replaces d
  t.insert(pfx(ip6(0x26075300, 0x60006b00, 0, 0xc05f0543), 128), d);
  t.insert(pfx(ip6(0x26075300, 0x60006b00, 0, 0), 64), c);
  t.insert(pfx(ip4(0, 0, 0, 0), 0), e);
  t.insert(pfx(ip6(0, 0, 0, 0), 0), e);
  t.insert(pfx(ip6(0, 0, 0, 0), 0), f);  // replaces e
  t.insert(pfx(ip6(0x24046800, 0, 0, 0), 32), g);
  t.insert(pfx(ip6(0x24046800, 0x40040800, 0xdeadbeef, 0xdeadbeef), 64), h);
  t.insert(pfx(ip6(0x24046800, 0x40040800, 0xdeadbeef, 0xdeadbeef), 128), a);
  t.insert(pfx(ip6(0x24446800, 0x40e40800, 0xdeaebeef, 0xdefbeef), 128), c);
  t.insert(pfx(ip6(0x24446800, 0xf0e40800, 0xeeaebeef, 0), 98), b);
  t.insert(pfx(ip4(64, 15, 112, 0), 20), g);
  t.insert(pfx(ip4(64, 15, 123, 211), 25), h);
  t.insert(pfx(ip4(10, 0, 0, 0), 25), a);
  t.insert(pfx(ip4(10, 0, 0, 128), 25), b);
  t.insert(pfx(ip4(10, 1, 0, 0), 30), a);
  t.insert(pfx(ip4(10, 1, 0, 4), 30), b);
  t.insert(pfx(ip4(10, 1, 0, 8), 29), c);
  t.insert(pfx(ip4(10, 1, 0, 16), 29), d);
  CHECK(t.size() == 21);

  const std::pair<IpAddress, PeerId> cases[] = {
      {ip4(192, 168, 4, 20), a},
      {ip4(192, 168, 4, 0), a},
      {ip4(192, 168, 4, 4), b},
      {ip4(192, 168, 200, 182), c},
      {ip4(192, 95, 5, 68), c},
      {ip4(192, 95, 5, 96), e},
      {ip6(0x26075300, 0x60006b00, 0, 0xc05f0543), d},
      {ip6(0x26075300, 0x60006b00, 0, 0xc02e01ee), c},
      {ip6(0x26075300, 0x60006b01, 0, 0), f},
      {ip6(0x24046800, 0x40040806, 0, 0x1006), g},
      {ip6(0x24046800, 0x40040806, 0x1234, 0x5678), g},
      {ip6(0x240467ff, 0x40040806, 0x1234, 0x5678), f},
      {ip6(0x24046801, 0x40040806, 0x1234, 0x5678), f},
      {ip6(0x24046800, 0x40040800, 0x1234, 0x5678), h},
      {ip6(0x24046800, 0x40040800, 0, 0), h},
      {ip6(0x24046800, 0x40040800, 0x10101010, 0x10101010), h},
      {ip6(0x24046800, 0x40040800, 0xdeadbeef, 0xdeadbeef), a},
      {ip4(64, 15, 116, 26), g},
      {ip4(64, 15, 127, 3), g},
      {ip4(64, 15, 123, 1), g},
      {ip4(64, 15, 123, 128), h},
      {ip4(64, 15, 123, 129), h},
      {ip4(10, 0, 0, 52), a},
      {ip4(10, 0, 0, 220), b},
      {ip4(10, 1, 0, 2), a},
      {ip4(10, 1, 0, 6), b},
      {ip4(10, 1, 0, 10), c},
      {ip4(10, 1, 0, 20), d},
  };
  for (size_t i = 0; i < std::size(cases); ++i) {
    CAPTURE(i + 1);
    CHECK(t.lookup(cases[i].first) == cases[i].second);
  }

  // remove_peer takes a peer's host routes out from under the /0.
  for (uint8_t first : {1, 64, 128, 192, 255}) t.insert(pfx(ip4(first, 0, 0, 0), 32), a);
  t.remove_peer(a);
  for (uint8_t first : {1, 64, 128, 192, 255}) {
    CAPTURE(int{first});
    CHECK(t.lookup(ip4(first, 0, 0, 0)) != a);
  }
  CHECK(t.lookup(ip4(10, 0, 0, 52)) == e);
  CHECK(t.lookup(ip4(10, 0, 0, 220)) == b);

  t.clear();
  CHECK(t.size() == 0);
  CHECK(t.lookup(ip4(192, 168, 4, 20)) == kNoPeer);
}

TEST_CASE("remove_peer with nested prefixes of one peer") {
  AllowedIps t;
  t.insert(pfx(ip4(192, 168, 0, 0), 16), a);
  t.insert(pfx(ip4(192, 168, 0, 0), 24), a);
  t.remove_peer(a);
  CHECK(t.lookup(ip4(192, 168, 0, 1)) == kNoPeer);
  CHECK(t.size() == 0);
}

TEST_CASE("host routes differing in every single bit") {
  // Each route branches off at a different depth, the deepest trie this shape allows.
  AllowedIps t;
  for (int i = 0; i < 128; ++i) {
    IpAddress ip = ip6(~0u, ~0u, ~0u, ~0u);
    ip.bytes[i / 8] &= static_cast<uint8_t>(~(0x80 >> (i % 8)));
    t.insert(pfx(ip, 128), a);
  }
  CHECK(t.size() == 128);
  CHECK(t.prefixes_of(a).size() == 128);
  CHECK(t.lookup(ip6(~0u, ~0u, ~0u, ~0u)) == kNoPeer);
  t.remove_peer(a);
  CHECK(t.size() == 0);
}

TEST_CASE("prefixes_of returns masked prefixes of both families") {
  AllowedIps t;
  t.insert(pfx(ip4(192, 95, 5, 93), 27), a);
  t.insert(pfx(ip6(0x26075300, 0x60006b00, 0, 0xc05f0543), 128), a);
  t.insert(pfx(ip4(10, 1, 0, 20), 29), a);
  t.insert(pfx(ip6(0x26075300, 0x6d8a6bf8, 0xdab1f1df, 0xc05f1523), 83), a);
  t.insert(pfx(ip6(0x26075300, 0x6d8a6bf8, 0xdab1f1df, 0xc05f1523), 21), a);
  t.insert(pfx(ip4(10, 1, 0, 0), 16), b);

  const std::vector<IpPrefix> expected = {
      IpPrefix{ip4(192, 95, 5, 64), 27},
      IpPrefix{ip6(0x26075300, 0x60006b00, 0, 0xc05f0543), 128},
      IpPrefix{ip4(10, 1, 0, 16), 29},
      IpPrefix{ip6(0x26075300, 0x6d8a6bf8, 0xdab1e000, 0), 83},
      IpPrefix{ip6(0x26075000, 0, 0, 0), 21},
  };
  CHECK(sorted(t.prefixes_of(a)) == sorted(expected));
  CHECK(t.prefixes_of(b) == std::vector<IpPrefix>{IpPrefix{ip4(10, 1, 0, 0), 16}});
  CHECK(t.prefixes_of(c).empty());
  CHECK(t.prefixes_of(kNoPeer).empty());
}

TEST_CASE("insert replaces the owner; remove needs the owner") {
  AllowedIps t;
  const IpPrefix net = pfx(ip4(10, 0, 0, 0), 8);
  t.insert(net, a);
  t.insert(net, b);
  CHECK(t.size() == 1);
  CHECK(t.lookup(ip4(10, 2, 3, 4)) == b);
  CHECK(t.prefixes_of(a).empty());

  CHECK_FALSE(t.remove(net, a));
  CHECK_FALSE(t.remove(pfx(ip4(10, 0, 0, 0), 9), b));
  CHECK_FALSE(t.remove(pfx(ip6(0x0a000000, 0, 0, 0), 8), b));
  CHECK(t.lookup(ip4(10, 2, 3, 4)) == b);
  CHECK(t.remove(net, b));
  CHECK_FALSE(t.remove(net, b));
  CHECK(t.size() == 0);
  CHECK(t.lookup(ip4(10, 2, 3, 4)) == kNoPeer);
}

TEST_CASE("/0, /32 and /128 edges") {
  AllowedIps t;
  t.insert(pfx(ip4(0, 0, 0, 0), 0), a);
  t.insert(pfx(ip4(255, 255, 255, 255), 32), b);
  t.insert(pfx(ip4(0, 0, 0, 0), 32), c);
  CHECK(t.lookup(ip4(255, 255, 255, 255)) == b);
  CHECK(t.lookup(ip4(255, 255, 255, 254)) == a);
  CHECK(t.lookup(ip4(0, 0, 0, 0)) == c);
  CHECK(t.lookup(ip4(0, 0, 0, 1)) == a);

  t.insert(pfx(ip6(0, 0, 0, 0), 0), d);
  t.insert(pfx(ip6(~0u, ~0u, ~0u, ~0u), 128), e);
  CHECK(t.lookup(ip6(~0u, ~0u, ~0u, ~0u)) == e);
  CHECK(t.lookup(ip6(~0u, ~0u, ~0u, ~1u)) == d);

  CHECK(t.remove(pfx(ip4(0, 0, 0, 0), 0), a));
  CHECK(t.lookup(ip4(0, 0, 0, 1)) == kNoPeer);
  CHECK(t.lookup(ip4(0, 0, 0, 0)) == c);
}

TEST_CASE("IPv4 and IPv6 tables are separate") {
  AllowedIps t;
  t.insert(pfx(ip4(10, 0, 0, 0), 8), a);
  // ::a00:0/8 has the same leading bits as 10.0.0.0/8 in a shared encoding; it must not match.
  CHECK(t.lookup(ip6(0x0a000000, 0, 0, 0)) == kNoPeer);
  t.insert(pfx(ip6(0, 0, 0, 0), 0), b);
  CHECK(t.lookup(ip4(11, 0, 0, 0)) == kNoPeer);
  CHECK(t.lookup(ip6(0x0a000000, 0, 0, 0)) == b);
  CHECK(t.lookup(ip4(10, 0, 0, 1)) == a);
  t.remove_peer(a);
  CHECK(t.lookup(ip6(0x0a000000, 0, 0, 0)) == b);
}

TEST_CASE("invalid inserts are ignored") {
  AllowedIps t;
  t.insert(pfx(ip4(10, 0, 0, 0), 8), kNoPeer);
  IpPrefix too_long{ip4(10, 0, 0, 0), 33};
  t.insert(too_long, a);
  CHECK(t.size() == 0);
  CHECK_FALSE(t.remove(too_long, a));
  t.remove_peer(kNoPeer);
  CHECK(t.size() == 0);
}

TEST_CASE("move leaves the source empty") {
  AllowedIps t;
  t.insert(pfx(ip4(10, 0, 0, 0), 8), a);
  AllowedIps u = std::move(t);
  CHECK(u.size() == 1);
  CHECK(u.lookup(ip4(10, 1, 1, 1)) == a);
  CHECK(t.size() == 0);  // NOLINT(bugprone-use-after-move): moved-from state is specified
  t = std::move(u);
  CHECK(t.lookup(ip4(10, 1, 1, 1)) == a);
}

namespace {

// Random addresses drawn near a small pool of bases, so prefixes nest and overlap often.
class AddressSource {
 public:
  explicit AddressSource(uint32_t seed) : rng_(seed) {
    for (int i = 0; i < 8; ++i) {
      bases4_.push_back(random_address(false));
      bases6_.push_back(random_address(true));
    }
  }

  IpAddress near(bool v6) {
    const auto& bases = v6 ? bases6_ : bases4_;
    IpAddress ip = bases[rng_() % bases.size()];
    // Keep a random number of leading bits from the base, randomise the rest.
    const unsigned width = v6 ? 128 : 32;
    const unsigned keep = rng_() % (width + 1);
    const IpAddress noise = random_address(v6);
    for (unsigned i = keep; i < width; ++i) {
      const uint8_t bit = 0x80 >> (i % 8);
      ip.bytes[i / 8] = static_cast<uint8_t>((ip.bytes[i / 8] & ~bit) | (noise.bytes[i / 8] & bit));
    }
    return ip;
  }

  IpPrefix prefix(bool v6) {
    const unsigned width = v6 ? 128 : 32;
    // Favour long prefixes a little, as real configurations do, but cover every length.
    const unsigned len = rng_() % 3 == 0 ? width - rng_() % 9 : rng_() % (width + 1);
    return IpPrefix::of(near(v6), static_cast<uint8_t>(len));
  }

  uint32_t next() { return static_cast<uint32_t>(rng_()); }

 private:
  IpAddress random_address(bool v6) {
    IpAddress ip;
    ip.v6 = v6;
    for (size_t i = 0; i < ip.size(); ++i) ip.bytes[i] = static_cast<uint8_t>(rng_());
    return ip;
  }

  std::mt19937_64 rng_;
  std::vector<IpAddress> bases4_, bases6_;
};

void check_lookups(const AllowedIps& t, const NaiveTable& ref, AddressSource& src, int count) {
  for (int i = 0; i < count; ++i) {
    const IpAddress ip = src.near(i % 2 == 1);
    const PeerId want = ref.lookup(ip);
    const PeerId got = t.lookup(ip);
    if (got != want) {
      FAIL_CHECK("lookup mismatch at query " << i << ": got " << got << ", want " << want);
      return;
    }
  }
}

}  // namespace

TEST_CASE("randomised comparison with a naive table") {
  constexpr PeerId kPeers = 12;
  AddressSource src(0x5eed1234);
  AllowedIps t;
  NaiveTable ref;

  for (int round = 0; round < 6; ++round) {
    CAPTURE(round);
    for (int i = 0; i < 800; ++i) {
      const IpPrefix p = src.prefix(src.next() % 2 == 0);
      const PeerId peer = 1 + src.next() % kPeers;
      t.insert(p, peer);
      ref.insert(p, peer);
    }
    REQUIRE(t.size() == ref.size());
    check_lookups(t, ref, src, 4000);

    // Remove a third of the entries by exact prefix, some with the wrong peer.
    std::vector<std::pair<IpPrefix, PeerId>> victims;
    for (const auto& entry : ref.entries()) {
      if (src.next() % 3 == 0) victims.push_back(entry);
    }
    for (auto [p, peer] : victims) {
      if (src.next() % 4 == 0) peer = 1 + peer % kPeers;  // not the owner
      const bool want = ref.remove(p, peer);
      REQUIRE(t.remove(p, peer) == want);
    }
    // Removing prefixes nobody has changes nothing.
    for (int i = 0; i < 100; ++i) {
      const IpPrefix p = src.prefix(src.next() % 2 == 0);
      const PeerId peer = 1 + src.next() % kPeers;
      REQUIRE(t.remove(p, peer) == ref.remove(p, peer));
    }
    REQUIRE(t.size() == ref.size());
    check_lookups(t, ref, src, 4000);

    const PeerId gone = 1 + src.next() % kPeers;
    t.remove_peer(gone);
    ref.remove_peer(gone);
    REQUIRE(t.size() == ref.size());
    check_lookups(t, ref, src, 2000);

    for (PeerId peer = 1; peer <= kPeers; ++peer) {
      CAPTURE(peer);
      REQUIRE(sorted(t.prefixes_of(peer)) == sorted(ref.prefixes_of(peer)));
    }
  }

  for (PeerId peer = 1; peer <= kPeers; ++peer) t.remove_peer(peer);
  CHECK(t.size() == 0);
  CHECK(t.prefixes_of(1).empty());
}

namespace {

std::vector<uint8_t> ipv4_header(const IpAddress& src, const IpAddress& dst) {
  std::vector<uint8_t> pkt(20);
  pkt[0] = 0x45;  // version 4, IHL 5
  pkt[3] = 20;    // total length
  pkt[8] = 64;    // TTL
  pkt[9] = 17;    // UDP
  std::copy_n(src.bytes.begin(), 4, pkt.begin() + 12);
  std::copy_n(dst.bytes.begin(), 4, pkt.begin() + 16);
  return pkt;
}

std::vector<uint8_t> ipv6_header(const IpAddress& src, const IpAddress& dst) {
  std::vector<uint8_t> pkt(40);
  pkt[0] = 0x60;  // version 6
  pkt[6] = 59;    // no next header
  pkt[7] = 64;    // hop limit
  std::copy_n(src.bytes.begin(), 16, pkt.begin() + 8);
  std::copy_n(dst.bytes.begin(), 16, pkt.begin() + 24);
  return pkt;
}

}  // namespace

TEST_CASE("lookup_packet reads source or destination") {
  AllowedIps t;
  t.insert(pfx(ip4(10, 0, 0, 0), 24), a);
  t.insert(pfx(ip4(192, 168, 1, 0), 24), b);
  t.insert(pfx(ip6(0xfd000000, 0, 0, 0), 64), c);
  t.insert(pfx(ip6(0x20010db8, 0, 0, 0), 32), d);

  auto v4 = ipv4_header(ip4(10, 0, 0, 7), ip4(192, 168, 1, 9));
  CHECK(t.lookup_packet(v4, true) == a);
  CHECK(t.lookup_packet(v4, false) == b);
  v4.resize(1400);  // payload after the header changes nothing
  CHECK(t.lookup_packet(v4, false) == b);

  const auto v6 = ipv6_header(ip6(0xfd000000, 0, 0, 1), ip6(0x20010db8, 1, 2, 3));
  CHECK(t.lookup_packet(v6, true) == c);
  CHECK(t.lookup_packet(v6, false) == d);

  // An IPv4 packet whose addresses happen to match an IPv6 entry's bits finds nothing.
  const auto cross = ipv4_header(ip4(0xfd, 0, 0, 0), ip4(0x20, 0x01, 0x0d, 0xb8));
  CHECK(t.lookup_packet(cross, true) == kNoPeer);
  CHECK(t.lookup_packet(cross, false) == kNoPeer);
}

TEST_CASE("lookup_packet rejects short or non-IP input") {
  AllowedIps t;
  t.insert(pfx(ip4(0, 0, 0, 0), 0), a);
  t.insert(pfx(ip6(0, 0, 0, 0), 0), b);

  CHECK(t.lookup_packet({}, false) == kNoPeer);
  auto v4 = ipv4_header(ip4(1, 2, 3, 4), ip4(5, 6, 7, 8));
  CHECK(t.lookup_packet(v4, false) == a);
  CHECK(t.lookup_packet(std::span(v4).first(19), false) == kNoPeer);
  CHECK(t.lookup_packet(std::span(v4).first(1), true) == kNoPeer);

  auto v6 = ipv6_header(ip6(1, 2, 3, 4), ip6(5, 6, 7, 8));
  CHECK(t.lookup_packet(v6, false) == b);
  CHECK(t.lookup_packet(std::span(v6).first(39), false) == kNoPeer);
  // A 20..39-byte packet claiming version 6 must not be read as IPv4.
  CHECK(t.lookup_packet(std::span(v6).first(20), false) == kNoPeer);

  for (uint8_t version : {0, 1, 5, 7, 15}) {
    CAPTURE(int{version});
    v6[0] = static_cast<uint8_t>(version << 4);
    CHECK(t.lookup_packet(v6, false) == kNoPeer);
    CHECK(t.lookup_packet(v6, true) == kNoPeer);
  }
}

namespace {

// Live heap blocks in this test binary, to see trie nodes come and go.
std::atomic<long> g_live_blocks{0};

}  // namespace

void* operator new(size_t n) {
  void* p = std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  ++g_live_blocks;
  return p;
}
void operator delete(void* p) noexcept {
  if (p) --g_live_blocks;
  std::free(p);
}
void operator delete(void* p, size_t) noexcept { operator delete(p); }

TEST_CASE("churn frees every node") {
  AddressSource src(42);
  AllowedIps t;
  std::vector<std::pair<IpPrefix, PeerId>> added;
  std::vector<std::pair<IpPrefix, PeerId>> owners;
  added.reserve(400);
  owners.reserve(400);
  for (int cycle = 0; cycle < 50; ++cycle) {
    CAPTURE(cycle);
    added.clear();
    for (int i = 0; i < 400; ++i) added.emplace_back(src.prefix(i % 2 == 0), 1 + src.next() % 4);
    // The last insert of a prefix owns it; those are the removals that must succeed.
    owners.clear();
    for (auto it = added.rbegin(); it != added.rend(); ++it) {
      const auto same = [&](const auto& o) { return o.first == it->first; };
      if (std::none_of(owners.begin(), owners.end(), same)) owners.push_back(*it);
    }

    const long before = g_live_blocks;
    for (const auto& [p, peer] : added) t.insert(p, peer);
    const long nodes = g_live_blocks - before;
    const size_t size = t.size();
    // Path compression: only owned prefixes and branch points between them have nodes.
    REQUIRE(size == owners.size());
    REQUIRE(nodes <= static_cast<long>(2 * size));

    // Remove half, put a quarter back, then remove the rest: the count must fall back exactly.
    for (size_t i = 0; i < owners.size(); i += 2)
      REQUIRE(t.remove(owners[i].first, owners[i].second));
    for (size_t i = 0; i < owners.size(); i += 4) t.insert(owners[i].first, owners[i].second);
    for (size_t i = 0; i < owners.size(); ++i) {
      const bool present = i % 2 == 1 || i % 4 == 0;
      REQUIRE(t.remove(owners[i].first, owners[i].second) == present);
    }
    REQUIRE(t.size() == 0);
    REQUIRE(g_live_blocks - before == 0);
  }
}
