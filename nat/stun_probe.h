#pragma once
// Asks several STUN servers, from one socket, which endpoint they see (sans-IO). Each server
// gets a request at once and again after 250 ms and 750 ms; a server silent for 2 s is given
// up. Two servers at different addresses seeing different endpoints means the NAT maps per
// destination (a "hard" NAT): the mapping a STUN server sees is then useless to peers.
#include <optional>
#include <span>
#include <vector>

#include "nat/stun.h"
#include "platform/clock.h"
#include "platform/endpoint.h"

namespace qvpn::nat {

class StunProbe {
 public:
  struct Send {
    std::vector<uint8_t> bytes;
    platform::Endpoint to;
  };
  struct Result {
    platform::Endpoint server;
    std::optional<platform::Endpoint> mapped;
    std::optional<platform::Duration> rtt;
  };

  StunProbe(std::vector<platform::Endpoint> servers, platform::TimePoint now);
  std::vector<Send> poll(platform::TimePoint now);
  // True when `bytes` answered one of our requests (and came from its server).
  bool handle(std::span<const uint8_t> bytes, const platform::Endpoint& from, platform::TimePoint now);
  // nullopt once done.
  std::optional<platform::TimePoint> next_deadline(platform::TimePoint now) const;
  // Every server answered or was given up.
  bool done(platform::TimePoint now) const;
  const std::vector<Result>& results() const { return results_; }
  std::optional<platform::Endpoint> mapped() const;
  std::optional<bool> varies_by_destination() const;

 private:
  struct Query {
    StunTxId txid;
    platform::TimePoint started;
    size_t sent = 0;
  };
  std::vector<Result> results_;
  std::vector<Query> queries_;
  std::optional<size_t> first_answer_;
};

}  // namespace qvpn::nat
