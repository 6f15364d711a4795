#include "nat/peer_path.h"

#include <sodium.h>

#include <algorithm>
#include <fmt/core.h>

namespace qvpn::nat {

namespace {

// At most this many candidates per peer; a call-me-maybe carries at most 16.
constexpr size_t kMaxCandidates = 32;

PingTxId new_txid() {
  PingTxId id;
  randombytes_buf(id.data(), id.size());
  return id;
}

bool is_private(const platform::IpAddress& ip) {
  const auto& b = ip.bytes;
  if (ip.v6) return (b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80);
  return b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168);
}

}  // namespace

PeerPath::PeerPath(PathPolicy policy, std::optional<platform::Endpoint> static_endpoint,
                   PathTimings timings)
    : policy_(policy), t_(timings) {
  if (static_endpoint) {
    Candidate c;
    c.endpoint = *static_endpoint;
    c.fixed = true;
    candidates_.push_back(c);
  }
}

void PeerPath::set_relay_usable(bool usable, platform::TimePoint now) {
  if (usable && !relay_usable_) next_call_me_maybe_ = now;  // announce ourselves at once
  relay_usable_ = usable;
}

void PeerPath::local_candidates_changed(uint8_t generation) {
  local_generation_ = generation;
  // From a new network our NAT is not open toward the peer until we punch again.
  punched_.reset();
  sent_opened_.reset();
  next_call_me_maybe_.reset();
  reply_owed_ = true;
}

PeerPath::Candidate& PeerPath::candidate(const platform::Endpoint& endpoint,
                                         platform::TimePoint now) {
  for (auto& c : candidates_) {
    if (c.endpoint == endpoint) {
      c.refreshed = now;
      return c;
    }
  }
  if (candidates_.size() >= kMaxCandidates) {
    // Make room by forgetting the stalest candidate that is neither fixed nor in use.
    auto victim = candidates_.end();
    for (auto it = candidates_.begin(); it != candidates_.end(); ++it) {
      if (it->fixed || (current_ && it->endpoint == *current_)) continue;
      if (victim == candidates_.end() || it->refreshed < victim->refreshed) victim = it;
    }
    if (victim != candidates_.end()) candidates_.erase(victim);
  }
  Candidate c;
  c.endpoint = endpoint;
  c.refreshed = now;
  candidates_.push_back(c);
  return candidates_.back();
}

void PeerPath::on_call_me_maybe(std::span<const platform::Endpoint> candidates,
                                uint8_t generation, std::optional<uint8_t> opened_toward,
                                bool peer_hard, platform::TimePoint now) {
  heard_from_peer_ = true;
  peer_hard_ = peer_hard;
  if (policy_ == PathPolicy::kRelay) return;
  // Open toward what we announce now; an older set may have been another network's.
  const bool opened = opened_toward == local_generation_;
  for (const auto& ep : candidates) {
    Candidate& c = candidate(ep, now);
    punches_.push_back({ep, new_txid(), true});
    // The peer's NAT is open toward us: ping for real (after the punch, in poll order).
    if (opened) c.punch_until = now + t_.punch_window;
  }
  punched_ = generation;
  // The peer learns that we are open toward its candidates, unless it already knows.
  if (sent_opened_ != generation) reply_owed_ = true;
}

void PeerPath::on_ping_from(const platform::Endpoint& from, platform::TimePoint now) {
  if (policy_ == PathPolicy::kRelay) return;
  // Its packet crossed both NATs, so ours has an entry for this pair: ping back, at the
  // punching pace (never once per ping received, or two peers would echo forever).
  Candidate& c = candidate(from, now);
  if (!trusted(c, now)) c.punch_until = now + t_.punch_window;
}

bool PeerPath::on_pong(const PingTxId& txid, platform::TimePoint now) {
  const auto it = std::find_if(pending_.begin(), pending_.end(),
                               [&](const Pending& p) { return p.txid == txid; });
  if (it == pending_.end()) return false;
  const Pending p = *it;
  pending_.erase(it);
  Candidate& c = candidate(p.to, now);
  c.last_pong = now;
  c.rtt = now - p.sent;
  c.punch_until = {};
  choose(now);
  return true;
}

bool PeerPath::active(platform::TimePoint now) const {
  return last_traffic_ && now - *last_traffic_ < t_.active_window;
}

bool PeerPath::trusted(const Candidate& c, platform::TimePoint now) const {
  if (!c.last_pong) return false;
  return now - *c.last_pong <= (active(now) ? t_.trust_active : t_.trust_idle);
}

const PeerPath::Candidate* PeerPath::current() const {
  if (!current_) return nullptr;
  for (const auto& c : candidates_) {
    if (c.endpoint == *current_) return &c;
  }
  return nullptr;
}

void PeerPath::choose(platform::TimePoint now) {
  const Candidate* best = nullptr;
  for (const auto& c : candidates_) {
    if (!trusted(c, now) || !c.rtt) continue;
    if (!best) {
      best = &c;
      continue;
    }
    // Round trips within 10% (or 0.1 ms) are a tie, which a private address wins: a LAN
    // path does not depend on the NAT's mapping.
    const auto a = *c.rtt, b = *best->rtt;
    const auto slack = std::max<platform::Duration>(b / 10, std::chrono::microseconds(100));
    const bool tie = a < b + slack && b < a + slack;
    if (tie ? (is_private(c.endpoint.ip) && !is_private(best->endpoint.ip)) : a < b) best = &c;
  }
  const Candidate* cur = current();
  if (cur && trusted(*cur, now) && best && best != cur) {
    // Hysteresis: leave a working path only for a clearly better one.
    if (!(*best->rtt * 10 < *cur->rtt * 8) &&
        !(is_private(best->endpoint.ip) && !is_private(cur->endpoint.ip))) {
      return;
    }
  }
  if (best) current_ = best->endpoint;
}

void PeerPath::expire(platform::TimePoint now) {
  std::erase_if(pending_, [&](const Pending& p) { return now - p.sent >= t_.ping_timeout; });
  std::erase_if(candidates_, [&](const Candidate& c) {
    if (c.fixed || (current_ && c.endpoint == *current_ && trusted(c, now))) return false;
    const bool recently_proven = c.last_pong && now - *c.last_pong < t_.proven_memory;
    return !recently_proven && now - c.refreshed > t_.candidate_lifetime;
  });
}

std::optional<platform::TimePoint> PeerPath::ping_due(const Candidate& c,
                                                      platform::TimePoint now) const {
  if (policy_ == PathPolicy::kRelay) return std::nullopt;
  platform::Duration interval;
  if (current_ && c.endpoint == *current_ && trusted(c, now)) {
    interval = active(now) ? t_.heartbeat_active : t_.heartbeat_idle;
  } else if (now < c.punch_until) {
    interval = t_.punch_interval;
  } else if (c.last_pong && now - *c.last_pong < t_.proven_memory) {
    interval = t_.retry_proven;
  } else if (c.fixed && !relay_usable_) {
    // Without a relay the static endpoint is all there is: probe it like a lost path.
    interval = t_.retry_proven;
  } else {
    return std::nullopt;
  }
  return c.last_ping ? *c.last_ping + interval : now;
}

PeerPath::Output PeerPath::poll(platform::TimePoint now) {
  Output out;
  expire(now);
  choose(now);
  out.pings = std::move(punches_);
  punches_.clear();
  for (auto& c : candidates_) {
    const auto due = ping_due(c, now);
    if (!due || *due > now) continue;
    const Ping ping{c.endpoint, new_txid(), false};
    out.pings.push_back(ping);
    pending_.push_back({ping.txid, ping.to, now});
    c.last_ping = now;
  }
  if (pending_.size() > 4 * kMaxCandidates) {
    pending_.erase(pending_.begin(), pending_.end() - 4 * kMaxCandidates);
  }
  const bool direct = route(now).kind == Route::Kind::kDirect;
  // Nothing to announce before our candidates are known (generation 0): a peer told to
  // ping us before we know our own mapping would reach our NAT before we open it.
  if (relay_usable_ && policy_ != PathPolicy::kRelay && local_generation_ != 0) {
    const bool periodic = !direct && next_call_me_maybe_ && now >= *next_call_me_maybe_;
    if (reply_owed_ || periodic || !next_call_me_maybe_) {
      out.call_me_maybe = true;
      out.opened_toward = punched_;
      sent_opened_ = punched_;
      reply_owed_ = false;
      next_call_me_maybe_ = now + t_.call_me_maybe_interval;
    }
  }
  return out;
}

std::optional<platform::TimePoint> PeerPath::next_deadline(platform::TimePoint now) const {
  std::optional<platform::TimePoint> next;
  const auto consider = [&](platform::TimePoint t) {
    if (!next || t < *next) next = t;
  };
  if (!punches_.empty() || (reply_owed_ && relay_usable_ && local_generation_ != 0)) consider(now);
  for (const auto& c : candidates_) {
    if (const auto due = ping_due(c, now)) consider(std::max(*due, now));
    // The moment a path stops being trusted, the route changes.
    if (c.last_pong && trusted(c, now)) {
      consider(*c.last_pong + (active(now) ? t_.trust_active : t_.trust_idle) +
               std::chrono::milliseconds(1));
    }
  }
  if (relay_usable_ && policy_ != PathPolicy::kRelay && next_call_me_maybe_ &&
      local_generation_ != 0 && route(now).kind != Route::Kind::kDirect) {
    consider(std::max(*next_call_me_maybe_, now));
  }
  if (!pending_.empty()) consider(pending_.front().sent + t_.ping_timeout);
  return next;
}

PeerPath::Route PeerPath::route(platform::TimePoint now) const {
  using Kind = Route::Kind;
  if (policy_ != PathPolicy::kRelay) {
    const Candidate* cur = current();
    if (cur && trusted(*cur, now)) return {Kind::kDirect, cur->endpoint};
  }
  if (policy_ != PathPolicy::kDirect && relay_usable_) return {Kind::kRelay, {}};
  if (policy_ != PathPolicy::kRelay) {
    for (const auto& c : candidates_) {
      if (c.fixed) return {Kind::kDirect, c.endpoint};
    }
  }
  return {Kind::kNone, {}};
}

std::optional<platform::Duration> PeerPath::direct_rtt(platform::TimePoint now) const {
  const Candidate* cur = current();
  if (cur && trusted(*cur, now)) return cur->rtt;
  return std::nullopt;
}

bool PeerPath::is_candidate(const platform::Endpoint& endpoint) const {
  return std::any_of(candidates_.begin(), candidates_.end(),
                     [&](const Candidate& c) { return c.endpoint == endpoint; });
}

std::string PeerPath::reason(platform::TimePoint now) const {
  const Route r = route(now);
  if (r.kind == Route::Kind::kDirect) return "";
  if (policy_ == PathPolicy::kRelay) return "policy: relay only";
  if (r.kind == Route::Kind::kNone) {
    return policy_ == PathPolicy::kDirect ? "policy: direct only, and no direct path is proven"
                                          : "no relay connected and no direct path proven";
  }
  const Candidate* cur = current();
  if (cur && cur->last_pong) {
    return fmt::format("direct path {} lost: no pong for {} ms", cur->endpoint.to_string(),
                       std::chrono::duration_cast<std::chrono::milliseconds>(now - *cur->last_pong)
                           .count());
  }
  if (local_hard_ && peer_hard_) return "both sides behind hard NAT, no port mapping";
  if (!heard_from_peer_) return "no candidates from the peer yet";
  const std::string tried = fmt::format("no pong from the peer's {} candidate(s)", candidates_.size());
  if (local_hard_) return "this node is behind a hard NAT with no port mapping; " + tried;
  if (peer_hard_) return "the peer is behind a hard NAT with no port mapping; " + tried;
  return tried;
}

}  // namespace qvpn::nat
