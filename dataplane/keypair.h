#pragma once
// Transport keypairs (whitepaper 5.4.6) and the three slots a peer keeps them in:
// `current` sends; `previous` still receives what was in flight; `next` is a responder's
// fresh keypair, promoted to current once the initiator's first data packet confirms it.
#include <cstdint>
#include <memory>

#include "dataplane/constants.h"
#include "dataplane/keys.h"
#include "dataplane/noise.h"
#include "dataplane/replay_window.h"
#include "platform/clock.h"

namespace qvpn::dataplane {

struct Keypair {
  Keypair(const SessionKeys& keys, platform::TimePoint birth)
      : send_key(keys.send), recv_key(keys.recv), local_index(keys.local_index),
        remote_index(keys.remote_index), initiator(keys.initiator), birth(birth) {}

  SecretKey send_key;
  SecretKey recv_key;
  uint64_t send_counter = 0;  // next nonce to use
  ReplayWindow replay;
  uint32_t local_index;
  uint32_t remote_index;
  bool initiator;
  platform::TimePoint birth;

  bool expired(platform::TimePoint now) const { return now - birth >= kRejectAfterTime; }
  bool can_send(platform::TimePoint now) const {
    return !expired(now) && send_counter < kRejectAfterMessages;
  }
  bool can_receive(platform::TimePoint now) const { return !expired(now); }
};

struct Keypairs {
  std::unique_ptr<Keypair> current;
  std::unique_ptr<Keypair> previous;
  std::unique_ptr<Keypair> next;
};

}  // namespace qvpn::dataplane
