// StunProbe on a fake clock: retransmits, give-up, answers only from the right server with
// the right transaction, and the hard-NAT verdict from two servers.
#include <doctest/doctest.h>

#include "nat/stun_probe.h"

using namespace qvpn;
using namespace qvpn::nat;
using namespace std::chrono_literals;

namespace {

platform::Endpoint ep(const char* text) { return *platform::Endpoint::parse(text); }
const platform::TimePoint t0 = platform::TimePoint{} + 100s;

// The server's answer to `request`, seeing the client as `mapped`.
std::vector<uint8_t> answer(const std::vector<uint8_t>& request, const char* mapped) {
  return stun_server_reply(request, ep(mapped)).bytes;
}

}  // namespace

TEST_CASE("STUN probe: retransmits at 0, 250 and 750 ms, then gives up at 2 s") {
  StunProbe p({ep("44.0.0.1:3478")}, t0);
  CHECK(p.poll(t0).size() == 1);
  CHECK(p.poll(t0 + 100ms).empty());
  CHECK(*p.next_deadline(t0 + 100ms) == t0 + 250ms);
  CHECK(p.poll(t0 + 250ms).size() == 1);
  CHECK(p.poll(t0 + 750ms).size() == 1);
  CHECK(p.poll(t0 + 1900ms).empty());
  CHECK(!p.done(t0 + 1900ms));
  CHECK(p.done(t0 + 2s));
  CHECK(!p.next_deadline(t0 + 2s));
  CHECK(!p.mapped());
  CHECK(!p.varies_by_destination());
}

TEST_CASE("STUN probe: two servers agree (easy NAT) or disagree (hard NAT)") {
  for (bool hard : {false, true}) {
    CAPTURE(hard);
    StunProbe p({ep("44.0.0.1:3478"), ep("44.0.0.2:3478")}, t0);
    const auto sends = p.poll(t0);
    REQUIRE(sends.size() == 2);
    CHECK(p.handle(answer(sends[0].bytes, "44.1.0.2:41641"), sends[0].to, t0 + 2ms));
    CHECK(!p.varies_by_destination());
    CHECK(p.handle(answer(sends[1].bytes, hard ? "44.1.0.2:5000" : "44.1.0.2:41641"), sends[1].to,
                   t0 + 3ms));
    REQUIRE(p.varies_by_destination());
    CHECK(*p.varies_by_destination() == hard);
    CHECK(p.mapped() == ep("44.1.0.2:41641"));
    CHECK(*p.results()[0].rtt == 2ms);
    CHECK(p.done(t0 + 3ms));
    CHECK(p.poll(t0 + 1s).empty());  // answered servers are not asked again
  }
}

TEST_CASE("STUN probe: answers from elsewhere, with another txid, or twice are ignored") {
  StunProbe p({ep("44.0.0.1:3478"), ep("44.0.0.1:3479")}, t0);
  const auto sends = p.poll(t0);
  const auto reply = answer(sends[0].bytes, "44.1.0.2:1");
  CHECK(!p.handle(reply, ep("44.0.0.9:3478"), t0));  // not the server asked
  CHECK(!p.handle(reply, sends[1].to, t0));          // the other server's txid differs
  CHECK(!p.handle(stun_binding_request(new_stun_txid()), sends[0].to, t0));
  CHECK(p.handle(reply, sends[0].to, t0));
  CHECK(!p.handle(reply, sends[0].to, t0));
  // Two ports of one address say nothing about per-destination mapping.
  CHECK(p.handle(answer(sends[1].bytes, "44.1.0.2:2"), sends[1].to, t0));
  CHECK(!p.varies_by_destination());
}
