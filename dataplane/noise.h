#pragma once
// The Noise_IKpsk2 handshake of WireGuard (whitepaper 5.4.2, 5.4.3, 5.4.5).
//
//   Initiator -> Responder:  e, es, s, ss, {t}
//   Responder -> Initiator:  e, ee, se, psk, {}
//
// Pure functions over a per-peer Handshake state: no I/O, no clock (the caller passes the
// TAI64N timestamp in), no index bookkeeping (the caller allocates indices). Every step
// below is tagged with the token it implements.
#include <optional>

#include "dataplane/keys.h"
#include "dataplane/messages.h"
#include "dataplane/tai64n.h"

namespace qvpn::dataplane {

// This interface's static key pair.
struct LocalIdentity {
  SecretKey private_key;
  PublicKey public_key;
  bool present = false;
};

struct Handshake {
  enum class State { kZeroed, kCreatedInitiation, kConsumedInitiation, kCreatedResponse,
                     kConsumedResponse };
  State state = State::kZeroed;
  PublicKey remote_static;
  SecretKey preshared;      // all zero when none
  SecretKey static_static;  // DH(local private, remote static); all zero when unusable
  SecretKey ephemeral_private;
  PublicKey remote_ephemeral;
  KeyBytes hash{};
  SecretKey chaining_key;
  uint32_t local_index = 0;
  uint32_t remote_index = 0;
  Tai64n latest_timestamp{};  // greatest accepted initiation timestamp (replay defence)

  // Recomputes static_static after the local or remote key changed.
  void precompute(const LocalIdentity& local);
  // Forgets the ephemeral state, keeps the keys and latest_timestamp.
  void clear();
};

// Keys for one session, derived at the end of a handshake.
struct SessionKeys {
  SecretKey send;
  SecretKey recv;
  bool initiator = false;
  uint32_t local_index = 0;
  uint32_t remote_index = 0;
};

// Fills msg (macs left zero) and moves hs to kCreatedInitiation. False when there is no
// local key or the peer's key is unusable.
bool create_initiation(HandshakeInitiation& msg, Handshake& hs, const LocalIdentity& local,
                       uint32_t local_index, const Tai64n& timestamp);

// Responder side, in two steps because the initiator's identity is only known half way.
struct InitiationScratch {
  KeyBytes hash{};
  SecretKey chaining_key;
  PublicKey remote_ephemeral;
  PublicKey remote_static;
};
// e, es, s: returns false if the static key does not decrypt.
bool consume_initiation_static(const HandshakeInitiation& msg, const LocalIdentity& local,
                               InitiationScratch& scratch);
enum class InitiationCheck { kOk, kBadTimestampBox, kReplayedTimestamp };
// ss, {t}: completes with the peer's state; on kOk hs is kConsumedInitiation.
InitiationCheck consume_initiation_finish(const HandshakeInitiation& msg, InitiationScratch& scratch,
                                          Handshake& hs);

// Fills msg (macs left zero) from a kConsumedInitiation state.
bool create_response(HandshakeResponse& msg, Handshake& hs, uint32_t local_index);
// Initiator side; hs must be kCreatedInitiation with msg.receiver_index == hs.local_index.
bool consume_response(const HandshakeResponse& msg, Handshake& hs, const LocalIdentity& local);

// After kCreatedResponse or kConsumedResponse: derives the transport keys and clears hs.
std::optional<SessionKeys> derive_session(Handshake& hs);

}  // namespace qvpn::dataplane
