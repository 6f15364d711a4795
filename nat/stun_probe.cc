#include "nat/stun_probe.h"

#include <chrono>

namespace qvpn::nat {

namespace {
using std::chrono::milliseconds;
// When each of the three requests goes, after the start; then when the server is given up.
constexpr milliseconds kSends[] = {milliseconds(0), milliseconds(250), milliseconds(750)};
constexpr milliseconds kGiveUp(2000);
}  // namespace

StunProbe::StunProbe(std::vector<platform::Endpoint> servers, platform::TimePoint now) {
  for (const auto& s : servers) {
    results_.push_back({s, std::nullopt, std::nullopt});
    queries_.push_back({new_stun_txid(), now, 0});
  }
}

std::vector<StunProbe::Send> StunProbe::poll(platform::TimePoint now) {
  std::vector<Send> out;
  for (size_t i = 0; i < queries_.size(); ++i) {
    Query& q = queries_[i];
    if (results_[i].mapped || q.sent == std::size(kSends)) continue;
    if (now < q.started + kSends[q.sent]) continue;
    out.push_back({stun_binding_request(q.txid), results_[i].server});
    ++q.sent;
  }
  return out;
}

bool StunProbe::handle(std::span<const uint8_t> bytes, const platform::Endpoint& from,
                       platform::TimePoint now) {
  const auto r = parse_stun_binding_response(bytes);
  if (!r) return false;
  for (size_t i = 0; i < queries_.size(); ++i) {
    if (queries_[i].txid != r->txid || results_[i].server != from || results_[i].mapped) continue;
    results_[i].mapped = r->mapped;
    // Measured from the first request: a retransmitted answer overstates, never understates.
    results_[i].rtt = now - queries_[i].started;
    if (!first_answer_) first_answer_ = i;
    return true;
  }
  return false;
}

std::optional<platform::TimePoint> StunProbe::next_deadline(platform::TimePoint now) const {
  std::optional<platform::TimePoint> next;
  for (size_t i = 0; i < queries_.size(); ++i) {
    const Query& q = queries_[i];
    if (results_[i].mapped || now >= q.started + kGiveUp) continue;
    const auto t = q.sent < std::size(kSends) ? q.started + kSends[q.sent] : q.started + kGiveUp;
    if (!next || t < *next) next = t;
  }
  return next;
}

bool StunProbe::done(platform::TimePoint now) const { return !next_deadline(now); }

std::optional<platform::Endpoint> StunProbe::mapped() const {
  if (!first_answer_) return std::nullopt;
  return results_[*first_answer_].mapped;
}

std::optional<bool> StunProbe::varies_by_destination() const {
  std::optional<platform::Endpoint> seen;
  std::optional<platform::IpAddress> seen_server;
  for (const auto& r : results_) {
    if (!r.mapped) continue;
    if (!seen) {
      seen = r.mapped;
      seen_server = r.server.ip;
      continue;
    }
    // Servers on one address share the NAT's mapping even when it varies by address.
    if (r.server.ip == *seen_server) continue;
    return *r.mapped != *seen;
  }
  return std::nullopt;
}

}  // namespace qvpn::nat
