#include "dataplane/noise.h"

#include <cstring>

#include "dataplane/aead.h"
#include "dataplane/blake2s.h"
#include "dataplane/constants.h"
#include "dataplane/endian.h"
#include "dataplane/kdf.h"
#include "dataplane/x25519.h"

namespace qvpn::dataplane {
namespace {

using Bytes = std::span<const uint8_t>;

Bytes as_bytes(const char* s) { return {reinterpret_cast<const uint8_t*>(s), std::strlen(s)}; }

// HASH(a || b)
void hash2(KeyBytes& out, Bytes a, Bytes b) {
  Blake2s h;
  h.update(a);
  h.update(b);
  h.final(out);
}

void mix_hash(KeyBytes& h, Bytes data) { hash2(h, h, data); }

void mix_key(SecretKey& ck, Bytes data) { kdf1(ck.span(), ck.span(), data); }

// (ck, key) = KDF2(ck, dh)
void mix_dh(SecretKey& ck, SecretKey& key, const SecretKey& dh) {
  kdf2(ck.span(), key.span(), ck.span(), dh.span());
}

struct Initial {
  SecretKey chaining_key;  // HASH(CONSTRUCTION)
  KeyBytes hash{};         // HASH(chaining_key || IDENTIFIER)
};

const Initial& initial() {
  static const Initial init = [] {
    Initial i;
    blake2s(i.chaining_key.span(), as_bytes(kConstruction));
    hash2(i.hash, i.chaining_key.span(), as_bytes(kIdentifier));
    return i;
  }();
  return init;
}

// Start of both messages: ck = initial, h = HASH(HASH(C || ID) || S_responder_pub).
void start(SecretKey& ck, KeyBytes& h, const PublicKey& responder_static) {
  ck = initial().chaining_key;
  hash2(h, initial().hash, responder_static.bytes);
}

}  // namespace

void Handshake::precompute(const LocalIdentity& local) {
  if (!local.present || !x25519(static_static, local.private_key, remote_static)) {
    static_static.wipe();
  }
}

void Handshake::clear() {
  ephemeral_private.wipe();
  remote_ephemeral = {};
  secure_wipe(hash.data(), hash.size());
  chaining_key.wipe();
  local_index = 0;
  remote_index = 0;
  state = State::kZeroed;
}

bool create_initiation(HandshakeInitiation& msg, Handshake& hs, const LocalIdentity& local,
                       uint32_t local_index, const Tai64n& timestamp) {
  if (!local.present || hs.static_static.is_zero()) return false;
  std::memset(&msg, 0, sizeof(msg));
  msg.type = to_le<uint32_t>(static_cast<uint32_t>(MessageType::kHandshakeInitiation));
  msg.sender_index = to_le(local_index);

  start(hs.chaining_key, hs.hash, hs.remote_static);

  // e
  hs.ephemeral_private = generate_private_key();
  const PublicKey e_pub = public_key_of(hs.ephemeral_private);
  std::memcpy(msg.unencrypted_ephemeral, e_pub.bytes.data(), kKeySize);
  mix_key(hs.chaining_key, e_pub.bytes);
  mix_hash(hs.hash, e_pub.bytes);

  // es
  SecretKey dh, key;
  if (!x25519(dh, hs.ephemeral_private, hs.remote_static)) return false;
  mix_dh(hs.chaining_key, key, dh);

  // s
  aead_seal(msg.encrypted_static, key.span(), 0, local.public_key.bytes, hs.hash);
  mix_hash(hs.hash, msg.encrypted_static);

  // ss
  kdf2(hs.chaining_key.span(), key.span(), hs.chaining_key.span(), hs.static_static.span());

  // {t}
  aead_seal(msg.encrypted_timestamp, key.span(), 0, timestamp, hs.hash);
  mix_hash(hs.hash, msg.encrypted_timestamp);

  hs.local_index = local_index;
  hs.state = Handshake::State::kCreatedInitiation;
  return true;
}

bool consume_initiation_static(const HandshakeInitiation& msg, const LocalIdentity& local,
                               InitiationScratch& s) {
  if (!local.present) return false;
  start(s.chaining_key, s.hash, local.public_key);

  // e
  std::memcpy(s.remote_ephemeral.bytes.data(), msg.unencrypted_ephemeral, kKeySize);
  mix_key(s.chaining_key, s.remote_ephemeral.bytes);
  mix_hash(s.hash, s.remote_ephemeral.bytes);

  // es
  SecretKey dh, key;
  if (!x25519(dh, local.private_key, s.remote_ephemeral)) return false;
  mix_dh(s.chaining_key, key, dh);

  // s
  if (!aead_open(s.remote_static.bytes, key.span(), 0, msg.encrypted_static, s.hash)) return false;
  mix_hash(s.hash, msg.encrypted_static);
  return true;
}

InitiationCheck consume_initiation_finish(const HandshakeInitiation& msg, InitiationScratch& s,
                                          Handshake& hs) {
  if (hs.static_static.is_zero()) return InitiationCheck::kBadTimestampBox;
  // ss
  SecretKey key;
  kdf2(s.chaining_key.span(), key.span(), s.chaining_key.span(), hs.static_static.span());

  // {t}
  Tai64n timestamp;
  if (!aead_open(timestamp, key.span(), 0, msg.encrypted_timestamp, s.hash)) {
    return InitiationCheck::kBadTimestampBox;
  }
  if (!tai64n_after(timestamp, hs.latest_timestamp)) return InitiationCheck::kReplayedTimestamp;
  mix_hash(s.hash, msg.encrypted_timestamp);

  hs.clear();
  hs.latest_timestamp = timestamp;
  hs.hash = s.hash;
  hs.chaining_key = s.chaining_key;
  hs.remote_ephemeral = s.remote_ephemeral;
  hs.remote_index = from_le(msg.sender_index);
  hs.state = Handshake::State::kConsumedInitiation;
  return InitiationCheck::kOk;
}

bool create_response(HandshakeResponse& msg, Handshake& hs, uint32_t local_index) {
  if (hs.state != Handshake::State::kConsumedInitiation) return false;
  std::memset(&msg, 0, sizeof(msg));
  msg.type = to_le<uint32_t>(static_cast<uint32_t>(MessageType::kHandshakeResponse));
  msg.sender_index = to_le(local_index);
  msg.receiver_index = to_le(hs.remote_index);

  // e
  hs.ephemeral_private = generate_private_key();
  const PublicKey e_pub = public_key_of(hs.ephemeral_private);
  std::memcpy(msg.unencrypted_ephemeral, e_pub.bytes.data(), kKeySize);
  mix_key(hs.chaining_key, e_pub.bytes);
  mix_hash(hs.hash, e_pub.bytes);

  // ee
  SecretKey dh;
  if (!x25519(dh, hs.ephemeral_private, hs.remote_ephemeral)) return false;
  mix_key(hs.chaining_key, dh.span());

  // se
  if (!x25519(dh, hs.ephemeral_private, hs.remote_static)) return false;
  mix_key(hs.chaining_key, dh.span());

  // psk
  SecretKey tau, key;
  kdf3(hs.chaining_key.span(), tau.span(), key.span(), hs.chaining_key.span(), hs.preshared.span());
  mix_hash(hs.hash, tau.span());

  // {}
  aead_seal(msg.encrypted_nothing, key.span(), 0, {}, hs.hash);
  mix_hash(hs.hash, msg.encrypted_nothing);

  hs.local_index = local_index;
  hs.state = Handshake::State::kCreatedResponse;
  return true;
}

bool consume_response(const HandshakeResponse& msg, Handshake& hs, const LocalIdentity& local) {
  if (hs.state != Handshake::State::kCreatedInitiation || !local.present) return false;
  // Work on copies: a forged response must not disturb the pending handshake.
  KeyBytes hash = hs.hash;
  SecretKey ck = hs.chaining_key;

  // e
  PublicKey e_remote;
  std::memcpy(e_remote.bytes.data(), msg.unencrypted_ephemeral, kKeySize);
  mix_key(ck, e_remote.bytes);
  mix_hash(hash, e_remote.bytes);

  // ee
  SecretKey dh;
  if (!x25519(dh, hs.ephemeral_private, e_remote)) return false;
  mix_key(ck, dh.span());

  // se
  if (!x25519(dh, local.private_key, e_remote)) return false;
  mix_key(ck, dh.span());

  // psk
  SecretKey tau, key;
  kdf3(ck.span(), tau.span(), key.span(), ck.span(), hs.preshared.span());
  mix_hash(hash, tau.span());

  // {}
  uint8_t nothing[1];
  if (!aead_open(std::span<uint8_t>(nothing, 0), key.span(), 0, msg.encrypted_nothing, hash)) {
    return false;
  }
  mix_hash(hash, msg.encrypted_nothing);

  hs.remote_ephemeral = e_remote;
  hs.hash = hash;
  hs.chaining_key = ck;
  hs.remote_index = from_le(msg.sender_index);
  hs.state = Handshake::State::kConsumedResponse;
  secure_wipe(hash.data(), hash.size());
  return true;
}

std::optional<SessionKeys> derive_session(Handshake& hs) {
  const bool initiator = hs.state == Handshake::State::kConsumedResponse;
  if (!initiator && hs.state != Handshake::State::kCreatedResponse) return std::nullopt;
  SessionKeys keys;
  keys.initiator = initiator;
  keys.local_index = hs.local_index;
  keys.remote_index = hs.remote_index;
  // (T_send_i, T_recv_i) = KDF2(C, e) = (T_recv_r, T_send_r)
  if (initiator) {
    kdf2(keys.send.span(), keys.recv.span(), hs.chaining_key.span(), {});
  } else {
    kdf2(keys.recv.span(), keys.send.span(), hs.chaining_key.span(), {});
  }
  hs.clear();
  return keys;
}

}  // namespace qvpn::dataplane
