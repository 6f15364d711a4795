// Differential fuzzer: AllowedIps against a list scanned for the longest matching prefix.
// Input: a stream of ops (insert, remove, remove_peer, lookup, lookup_packet), each a kind
// byte followed by its operands; every lookup and the final state are compared.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <tuple>
#include <utility>
#include <vector>

#include "dataplane/allowed_ips.h"
#include "support/fuzz_reader.h"
#include "support/naive_allowed_ips.h"

namespace {

using qvpn::dataplane::AllowedIps;
using qvpn::dataplane::IpPrefix;
using qvpn::dataplane::kNoPeer;
using qvpn::dataplane::PeerId;
using qvpn::platform::IpAddress;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "allowed_ips mismatch: %s\n", what);
  std::abort();
}

using NaiveTable = qvpn::test::NaiveAllowedIps;

using Reader = qvpn::test::FuzzReader;

IpAddress read_address(Reader& in, bool v6) {
  IpAddress a;
  a.v6 = v6;
  for (size_t i = 0; i < a.size(); ++i) a.bytes[i] = in.byte();
  return a;
}

// What lookup_packet should see, written out independently of the implementation.
PeerId naive_packet_lookup(const NaiveTable& ref, std::span<const uint8_t> pkt, bool by_source) {
  if (pkt.empty()) return kNoPeer;
  IpAddress a;
  if ((pkt[0] >> 4) == 4 && pkt.size() >= 20) {
    std::copy_n(pkt.begin() + (by_source ? 12 : 16), 4, a.bytes.begin());
  } else if ((pkt[0] >> 4) == 6 && pkt.size() >= 40) {
    a.v6 = true;
    std::copy_n(pkt.begin() + (by_source ? 8 : 24), 16, a.bytes.begin());
  } else {
    return kNoPeer;
  }
  return ref.lookup(a);
}

bool prefix_less(const IpPrefix& a, const IpPrefix& b) {
  return std::tie(a.addr.v6, a.addr.bytes, a.len) < std::tie(b.addr.v6, b.addr.bytes, b.len);
}

constexpr PeerId kPeers = 4;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in({data, size});
  AllowedIps t;
  NaiveTable ref;
  std::vector<IpAddress> probes;  // addresses worth looking up again at the end

  for (int step = 0; !in.empty() && step < 512; ++step) {
    const uint8_t kind = in.byte();
    const bool v6 = kind & 0x80;
    const PeerId peer = 1 + (kind >> 3 & 0x3) % kPeers;
    switch (kind % 6) {
      case 0:
      case 1: {
        const uint8_t len = static_cast<uint8_t>(in.byte() % (v6 ? 129 : 33));
        const IpPrefix p = IpPrefix::of(read_address(in, v6), len);
        probes.push_back(p.addr);
        if (kind % 6 == 0) {
          t.insert(p, peer);
          ref.insert(p, peer);
        } else if (t.remove(p, peer) != ref.remove(p, peer)) {
          fail("remove result");
        }
        break;
      }
      case 2:
        t.remove_peer(peer);
        ref.remove_peer(peer);
        break;
      case 3: {
        const IpAddress a = read_address(in, v6);
        probes.push_back(a);
        if (t.lookup(a) != ref.lookup(a)) fail("lookup");
        break;
      }
      case 4: {
        const auto pkt = in.bytes(in.byte() % 48);
        const bool by_source = kind & 0x40;
        if (t.lookup_packet(pkt, by_source) != naive_packet_lookup(ref, pkt, by_source))
          fail("lookup_packet");
        break;
      }
      default:
        t.clear();
        for (PeerId p = 1; p <= kPeers; ++p) ref.remove_peer(p);
        break;
    }
    if (t.size() != ref.size()) fail("size");
  }

  for (const IpAddress& a : probes) {
    if (t.lookup(a) != ref.lookup(a)) fail("final lookup");
  }
  for (PeerId peer = 1; peer <= kPeers; ++peer) {
    auto got = t.prefixes_of(peer);
    auto want = ref.prefixes_of(peer);
    std::sort(got.begin(), got.end(), prefix_less);
    std::sort(want.begin(), want.end(), prefix_less);
    if (got != want) fail("prefixes_of");
  }
  return 0;
}
