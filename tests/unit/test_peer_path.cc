// PeerPath on a fake clock: the opened call-me-maybe exchange, proving and choosing direct
// paths, falling back to the relay when pongs stop and coming back, the three policies, and
// the reasons `qvpn status` shows.
#include <doctest/doctest.h>

#include <algorithm>

#include "nat/peer_path.h"

using namespace qvpn;
using namespace qvpn::nat;
using namespace std::chrono_literals;
using Kind = PeerPath::Route::Kind;

namespace {

platform::Endpoint ep(const char* text) { return *platform::Endpoint::parse(text); }

const platform::TimePoint t0 = platform::TimePoint{} + 1000s;

std::vector<PeerPath::Ping> full_pings(const PeerPath::Output& out) {
  std::vector<PeerPath::Ping> v;
  for (const auto& p : out.pings) {
    if (!p.low_ttl) v.push_back(p);
  }
  return v;
}

// Answers every full ping to `reachable` with a pong after `rtt`.
void pong_all(PeerPath& path, const PeerPath::Output& out, const platform::Endpoint& reachable,
              platform::TimePoint now) {
  for (const auto& p : full_pings(out)) {
    if (p.to == reachable) CHECK(path.on_pong(p.txid, now));
  }
}

}  // namespace

TEST_CASE("the opened call-me-maybe exchange: nobody pings for real before the peer is open") {
  const auto a_lan = ep("192.168.1.2:41641"), a_wan = ep("44.1.0.2:41641");
  const auto b_lan = ep("192.168.2.2:41641"), b_wan = ep("44.2.0.2:41641");
  PeerPath a(PathPolicy::kAuto, std::nullopt);  // A's view of B
  PeerPath b(PathPolicy::kAuto, std::nullopt);  // B's view of A
  // Before its own candidates are known, a node announces nothing.
  a.set_relay_usable(true, t0);
  CHECK(!a.poll(t0).call_me_maybe);
  CHECK(!a.next_deadline(t0));
  a.set_relay_usable(false, t0);
  a.local_candidates_changed(1);
  b.local_candidates_changed(9);
  CHECK(a.route(t0).kind == Kind::kNone);

  // 1. A reaches the relay and announces its candidates (generation 1), not yet opened.
  a.set_relay_usable(true, t0);
  CHECK(a.route(t0).kind == Kind::kRelay);
  auto out = a.poll(t0);
  CHECK(out.call_me_maybe);
  CHECK(!out.opened_toward);
  CHECK(out.pings.empty());

  // 2. B punches A's candidates with low TTL only, and answers: opened toward A's set 1.
  b.set_relay_usable(true, t0);
  b.poll(t0);
  const platform::Endpoint a_cands[] = {a_lan, a_wan};
  b.on_call_me_maybe(a_cands, 1, std::nullopt, false, t0);
  out = b.poll(t0);
  CHECK(out.pings.size() == 2);
  CHECK(full_pings(out).empty());
  CHECK(out.call_me_maybe);
  CHECK(out.opened_toward == std::optional<uint8_t>(1));

  // 3. A punches, then pings B's candidates for real, and answers opened toward B's set 9.
  const platform::Endpoint b_cands[] = {b_lan, b_wan};
  a.on_call_me_maybe(b_cands, 9, 1, false, t0 + 10ms);
  out = a.poll(t0 + 10ms);
  REQUIRE(out.pings.size() == 4);
  CHECK(out.pings[0].low_ttl);
  CHECK(out.pings[1].low_ttl);
  CHECK(full_pings(out).size() == 2);
  CHECK(out.call_me_maybe);
  CHECK(out.opened_toward == std::optional<uint8_t>(9));

  // B, told A is open toward its set 9, pings A's candidates for real; it does not answer again.
  b.on_call_me_maybe(a_cands, 1, 9, false, t0 + 20ms);
  auto bout = b.poll(t0 + 20ms);
  CHECK(full_pings(bout).size() == 2);
  CHECK(!bout.call_me_maybe);

  // Only the WAN candidate answers: it becomes the direct path.
  pong_all(a, out, b_wan, t0 + 11ms);
  CHECK(a.route(t0 + 11ms).kind == Kind::kDirect);
  CHECK(a.route(t0 + 11ms).endpoint == b_wan);
  CHECK(a.reason(t0 + 11ms).empty());
  REQUIRE(a.direct_rtt(t0 + 11ms));
  CHECK(*a.direct_rtt(t0 + 11ms) == 1ms);
  // A pong for a txid that is not ours is refused.
  CHECK(!a.on_pong(PingTxId{}, t0 + 12ms));
}

TEST_CASE("opened toward an older set of our candidates is not taken as open") {
  PeerPath a(PathPolicy::kAuto, std::nullopt);
  a.local_candidates_changed(1);
  a.set_relay_usable(true, t0);
  a.poll(t0);
  // A moved (a STUN answer, a new network): its candidates are now generation 2.
  a.local_candidates_changed(2);
  auto out = a.poll(t0);
  CHECK(out.call_me_maybe);
  CHECK(!out.opened_toward);  // it must punch toward the peer again first
  // The peer had opened toward generation 1 only: A punches but does not ping for real.
  const platform::Endpoint cands[] = {ep("44.2.0.2:41641")};
  a.on_call_me_maybe(cands, 5, 1, false, t0);
  out = a.poll(t0);
  CHECK(out.pings.size() == 1);
  CHECK(full_pings(out).empty());
  CHECK(out.opened_toward == std::optional<uint8_t>(5));
  a.on_call_me_maybe(cands, 5, 2, false, t0 + 1ms);
  CHECK(full_pings(a.poll(t0 + 1ms)).size() == 1);
}

TEST_CASE("a direct path falls back to the relay when its pongs stop, and comes back") {
  const auto b_wan = ep("44.2.0.2:41641");
  PeerPath a(PathPolicy::kAuto, std::nullopt);
  a.local_candidates_changed(1);
  a.set_relay_usable(true, t0);
  a.poll(t0);
  const platform::Endpoint cands[] = {b_wan};
  a.on_call_me_maybe(cands, 1, 1, false, t0);
  auto now = t0;
  auto out = a.poll(now);
  pong_all(a, out, b_wan, now + 1ms);
  REQUIRE(a.route(now).kind == Kind::kDirect);

  // Traffic flows: heartbeats every second keep the path while pongs come back.
  for (int i = 0; i < 10; ++i) {
    now += 1s;
    a.note_traffic(now);
    out = a.poll(now);
    CHECK(full_pings(out).size() == 1);
    pong_all(a, out, b_wan, now + 1ms);
    CHECK(a.route(now + 1ms).kind == Kind::kDirect);
  }
  // The path goes dark: within 5 s the route is the relay, and the reason names the loss.
  const auto blocked = now;
  bool asked = false;
  while (a.route(now).kind == Kind::kDirect) {
    const auto next = a.next_deadline(now);
    REQUIRE(next);
    REQUIRE(*next > now);
    now = *next;
    a.note_traffic(now);
    asked |= a.poll(now).call_me_maybe;
  }
  CHECK(now - blocked <= 5s);
  CHECK(a.route(now).kind == Kind::kRelay);
  CHECK(a.reason(now).find("lost") != std::string::npos);
  // Relayed without a direct path, it asks the peer to punch again.
  std::optional<PeerPath::Output> retry;
  for (int i = 0; i < 20 && !retry; ++i) {
    now += 500ms;
    out = a.poll(now);
    asked |= out.call_me_maybe;
    if (!full_pings(out).empty()) retry = out;
  }
  CHECK(asked);
  // The path that worked before is retried; once it answers, traffic goes direct again.
  REQUIRE(retry);
  pong_all(a, *retry, b_wan, now + 1ms);
  CHECK(a.route(now + 1ms).kind == Kind::kDirect);
}

TEST_CASE("choosing among proven paths: lower round trip, a private address on a tie, hysteresis") {
  const auto lan = ep("192.168.1.3:41641"), wan = ep("44.1.0.2:1024"), wan2 = ep("44.9.0.2:1");
  PeerPath a(PathPolicy::kAuto, std::nullopt);
  a.set_relay_usable(true, t0);
  const platform::Endpoint cands[] = {wan, lan, wan2};
  a.on_call_me_maybe(cands, 1, 0, false, t0);
  auto out = a.poll(t0);
  auto pings = full_pings(out);
  REQUIRE(pings.size() == 3);
  // The WAN answers first (1 ms), the LAN within the tie margin (1.05 ms): the LAN wins.
  for (const auto& p : pings) {
    if (p.to == wan) a.on_pong(p.txid, t0 + 1ms);
  }
  CHECK(a.route(t0 + 1ms).endpoint == wan);
  for (const auto& p : pings) {
    if (p.to == lan) a.on_pong(p.txid, t0 + 1050us);
  }
  CHECK(a.route(t0 + 2ms).endpoint == lan);
  // A public path only slightly faster does not displace a working one.
  for (const auto& p : pings) {
    if (p.to == wan2) a.on_pong(p.txid, t0 + 1000us);
  }
  CHECK(a.route(t0 + 2ms).endpoint == lan);
}

TEST_CASE("policies: relay only never probes; direct only never relays; a static endpoint") {
  const auto stat = ep("203.0.113.5:51820");
  PeerPath relay_only(PathPolicy::kRelay, stat);
  relay_only.set_relay_usable(true, t0);
  const platform::Endpoint cands[] = {ep("44.2.0.2:1")};
  relay_only.on_call_me_maybe(cands, 1, 0, false, t0);
  auto out = relay_only.poll(t0);
  CHECK(out.pings.empty());
  CHECK(!out.call_me_maybe);
  CHECK(relay_only.route(t0).kind == Kind::kRelay);
  CHECK(relay_only.reason(t0) == "policy: relay only");
  relay_only.set_relay_usable(false, t0);
  CHECK(relay_only.route(t0).kind == Kind::kNone);

  PeerPath direct_only(PathPolicy::kDirect, std::nullopt);
  direct_only.set_relay_usable(true, t0);
  CHECK(direct_only.route(t0).kind == Kind::kNone);
  CHECK(direct_only.reason(t0).find("direct only") != std::string::npos);

  // With a static endpoint and no relay, traffic goes there (plain WireGuard), and the
  // endpoint is probed so it can be proven.
  PeerPath plain(PathPolicy::kAuto, stat);
  CHECK(plain.route(t0).kind == Kind::kDirect);
  CHECK(plain.route(t0).endpoint == stat);
  CHECK(full_pings(plain.poll(t0)).size() == 1);
  // With the relay up, an unproven static endpoint yields to the relay.
  plain.set_relay_usable(true, t0);
  CHECK(plain.route(t0).kind == Kind::kRelay);
}

TEST_CASE("a ping from a new address (NAT rebinding, a new network) is pinged back and can win") {
  const auto old_ep = ep("44.2.0.2:41641"), new_ep = ep("44.7.0.9:5000");
  PeerPath a(PathPolicy::kAuto, std::nullopt);
  a.set_relay_usable(true, t0);
  a.on_ping_from(new_ep, t0);
  CHECK(a.is_candidate(new_ep));
  CHECK(!a.is_candidate(old_ep));
  auto out = a.poll(t0);
  auto pings = full_pings(out);
  REQUIRE(pings.size() == 1);
  CHECK(pings[0].to == new_ep);
  a.on_pong(pings[0].txid, t0 + 1ms);
  CHECK(a.route(t0 + 1ms).endpoint == new_ep);
  // More pings from the peer do not each trigger a ping back: two peers would echo forever.
  for (int i = 0; i < 10; ++i) a.on_ping_from(new_ep, t0 + 2ms);
  CHECK(full_pings(a.poll(t0 + 2ms)).empty());
}

TEST_CASE("reasons for the relay") {
  PeerPath a(PathPolicy::kAuto, std::nullopt);
  a.set_relay_usable(true, t0);
  CHECK(a.reason(t0) == "no candidates from the peer yet");
  a.set_local_hard_nat(true);
  const platform::Endpoint cands[] = {ep("44.2.0.2:1")};
  a.on_call_me_maybe(cands, 1, std::nullopt, true, t0);
  CHECK(a.reason(t0) == "both sides behind hard NAT, no port mapping");
  a.set_local_hard_nat(false);
  CHECK(a.reason(t0).starts_with("the peer is behind a hard NAT"));
}

TEST_CASE("candidates are bounded, and stale ones expire") {
  PeerPath a(PathPolicy::kAuto, std::nullopt);
  a.set_relay_usable(true, t0);
  for (int i = 0; i < 100; ++i) {
    a.on_ping_from(platform::Endpoint{*platform::IpAddress::parse("44.3.0.1"), uint16_t(1000 + i)},
                   t0 + std::chrono::milliseconds(i));
  }
  CHECK(a.candidates().size() <= 32);
  a.poll(t0 + 1s);
  a.poll(t0 + 10min);
  CHECK(a.candidates().empty());
}
