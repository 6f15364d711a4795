// Fuzzes the Noise_IKpsk2 message consumers: consume_initiation_static and
// consume_initiation_finish (responder), consume_response (initiator). Identities I and R
// are tests/support keys 1 and 2, the preshared key is key 3. Either the input is the
// message itself, or it is a mask XORed over a real message that I or R has just made, so
// the fuzzer works next to valid states; then the outcome is known exactly: any change to
// an authenticated byte must be refused, and an untouched message must complete a
// handshake whose two sides derive the same keys.
//
// Input: flags byte, initiation timestamp (12), responder's latest timestamp (12), then the
// message or mask (148 bytes for an initiation, 92 for a response; short inputs are zero
// padded, longer ones cut).
//   flags & 3: 0 initiation XOR mask, 1 response XOR mask, 2 raw initiation, 3 raw response
//   flags & 4: I has a preshared key;  flags & 8: R has the same one
#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>

#include "dataplane/endian.h"
#include "dataplane/noise.h"
#include "dataplane/x25519.h"
#include "support/keys.h"

namespace {

using namespace qvpn::dataplane;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_handshake_messages: %s\n", what);
  std::abort();
}

LocalIdentity identity(uint8_t seed) {
  LocalIdentity id;
  id.private_key = qvpn::test::secret(seed);
  id.public_key = public_key_of(id.private_key);
  id.present = true;
  return id;
}

const LocalIdentity& initiator() {
  static const LocalIdentity id = identity(1);
  return id;
}
const LocalIdentity& responder() {
  static const LocalIdentity id = identity(2);
  return id;
}

// hs as I keeps it for R, or R for I.
void start_peer(Handshake& hs, const LocalIdentity& local, const LocalIdentity& remote,
                bool with_psk) {
  hs.remote_static = remote.public_key;
  hs.precompute(local);
  if (with_psk) hs.preshared = qvpn::test::secret(3);
}

bool zero(std::span<const uint8_t> mask, size_t from, size_t to) {
  for (size_t i = from; i < to && i < mask.size(); ++i) {
    if (mask[i]) return false;
  }
  return true;
}

template <typename Msg>
void apply(Msg& msg, std::span<const uint8_t> mask) {
  auto* p = reinterpret_cast<uint8_t*>(&msg);
  for (size_t i = 0; i < sizeof(Msg) && i < mask.size(); ++i) p[i] ^= mask[i];
}

template <typename Msg>
Msg raw(std::span<const uint8_t> bytes) {
  Msg msg;
  std::memset(&msg, 0, sizeof msg);
  std::memcpy(&msg, bytes.data(), std::min(bytes.size(), sizeof msg));
  return msg;
}

// Both sides derive their session; the keys must mirror each other.
void expect_matching_sessions(Handshake& i_hs, Handshake& r_hs, uint32_t i_index,
                              uint32_t r_index) {
  const auto ik = derive_session(i_hs);
  const auto rk = derive_session(r_hs);
  if (!ik || !rk) fail("a completed handshake did not derive a session");
  if (!ik->initiator || rk->initiator) fail("session roles are wrong");
  if (!ik->send.equals(rk->recv) || !ik->recv.equals(rk->send)) fail("session keys differ");
  if (ik->local_index != i_index || rk->local_index != r_index) fail("local indices differ");
}

// Field offsets: what Noise authenticates in each message.
constexpr size_t kInitEphemeral = offsetof(HandshakeInitiation, unencrypted_ephemeral);
constexpr size_t kInitTimestamp = offsetof(HandshakeInitiation, encrypted_timestamp);
constexpr size_t kInitMacs = offsetof(HandshakeInitiation, macs);
constexpr size_t kRespEphemeral = offsetof(HandshakeResponse, unencrypted_ephemeral);
constexpr size_t kRespMacs = offsetof(HandshakeResponse, macs);

constexpr uint32_t kIndexI = 0x11223344;
constexpr uint32_t kIndexR = 0x55667788;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 + 2 * kTai64nSize) return 0;
  const uint8_t flags = data[0];
  Tai64n timestamp, latest;
  std::memcpy(timestamp.data(), data + 1, kTai64nSize);
  std::memcpy(latest.data(), data + 1 + kTai64nSize, kTai64nSize);
  const std::span<const uint8_t> body(data + 1 + 2 * kTai64nSize, size - 1 - 2 * kTai64nSize);
  const bool psk_i = flags & 4, psk_r = flags & 8;
  const bool same_psk = psk_i == psk_r;

  Handshake i_hs, r_hs;  // I's state for R, R's state for I
  start_peer(i_hs, initiator(), responder(), psk_i);
  start_peer(r_hs, responder(), initiator(), psk_r);
  r_hs.latest_timestamp = latest;

  switch (flags & 3) {
    case 0: {  // initiation XOR mask
      HandshakeInitiation msg;
      if (!create_initiation(msg, i_hs, initiator(), kIndexI, timestamp)) fail("create_initiation");
      apply(msg, body);
      InitiationScratch scratch;
      const bool static_ok = consume_initiation_static(msg, responder(), scratch);
      if (static_ok != zero(body, kInitEphemeral, kInitTimestamp)) {
        fail("consume_initiation_static disagrees with the mask over e and s");
      }
      if (!static_ok) break;
      if (scratch.remote_static != initiator().public_key) fail("decrypted the wrong static key");
      const auto check = consume_initiation_finish(msg, scratch, r_hs);
      const InitiationCheck want =
          !zero(body, kInitTimestamp, kInitMacs) ? InitiationCheck::kBadTimestampBox
          : tai64n_after(timestamp, latest)      ? InitiationCheck::kOk
                                                 : InitiationCheck::kReplayedTimestamp;
      if (check != want) fail("consume_initiation_finish disagrees with the mask or timestamps");
      if (check != InitiationCheck::kOk) {
        if (r_hs.latest_timestamp != latest) fail("a refused initiation moved the timestamp");
        break;
      }
      // The sender index is not authenticated by Noise (MAC1 covers it): whatever it now
      // says is what the responder must answer to.
      if (r_hs.remote_index != from_le(msg.sender_index)) fail("responder took another index");
      HandshakeResponse resp;
      if (!create_response(resp, r_hs, kIndexR)) fail("create_response");
      const bool ok = consume_response(resp, i_hs, initiator());
      if (ok != same_psk) fail("consume_response disagrees with the preshared keys");
      if (ok) expect_matching_sessions(i_hs, r_hs, kIndexI, kIndexR);
      break;
    }
    case 1: {  // response XOR mask
      HandshakeInitiation init;
      if (!create_initiation(init, i_hs, initiator(), kIndexI, timestamp)) {
        fail("create_initiation");
      }
      InitiationScratch scratch;
      r_hs.latest_timestamp = {};
      if (!consume_initiation_static(init, responder(), scratch) ||
          consume_initiation_finish(init, scratch, r_hs) != InitiationCheck::kOk) {
        // Only an all-zero timestamp is not after the zero one.
        if (timestamp != Tai64n{}) fail("a genuine initiation was refused");
        break;
      }
      HandshakeResponse resp;
      if (!create_response(resp, r_hs, kIndexR)) fail("create_response");
      HandshakeResponse forged = resp;
      apply(forged, body);
      const bool want = same_psk && zero(body, kRespEphemeral, kRespMacs);
      const bool ok = consume_response(forged, i_hs, initiator());
      if (ok != want) fail("consume_response disagrees with the mask");
      if (!ok) {
        // A refused response leaves the pending handshake as it was: the genuine one works.
        if (consume_response(resp, i_hs, initiator()) != same_psk) {
          fail("a refused response disturbed the pending handshake");
        }
      }
      if (same_psk) expect_matching_sessions(i_hs, r_hs, kIndexI, kIndexR);
      break;
    }
    case 2: {  // raw initiation (a captured one from the corpus may well be valid)
      const auto msg = raw<HandshakeInitiation>(body);
      InitiationScratch scratch;
      if (!consume_initiation_static(msg, responder(), scratch)) break;
      if (scratch.remote_static != initiator().public_key) break;  // someone R does not know
      if (consume_initiation_finish(msg, scratch, r_hs) != InitiationCheck::kOk) break;
      HandshakeResponse resp;
      if (!create_response(resp, r_hs, kIndexR)) fail("create_response after a valid initiation");
      if (!derive_session(r_hs)) fail("derive_session after a valid initiation");
      break;
    }
    default: {  // raw response to a fresh initiation: its ephemeral is new, so never valid
      HandshakeInitiation init;
      if (!create_initiation(init, i_hs, initiator(), kIndexI, timestamp)) {
        fail("create_initiation");
      }
      const auto msg = raw<HandshakeResponse>(body);
      if (consume_response(msg, i_hs, initiator())) {
        fail("accepted a response made up by the fuzzer");
      }
      if (i_hs.state != Handshake::State::kCreatedInitiation) {
        fail("a refused response moved state");
      }
      break;
    }
  }
  return 0;
}
