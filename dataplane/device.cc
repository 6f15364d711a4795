#include "dataplane/device.h"

#include <algorithm>

#include "dataplane/aead.h"
#include "dataplane/x25519.h"

namespace qvpn::dataplane {

Device::Device(WallClock wall_clock)
    : wall_clock_(std::move(wall_clock)), tx_buf_(kMaxMessageSize), rx_buf_(kMaxMessageSize) {}

Device::~Device() { remove_all_peers(); }

void Device::set_private_key(const std::optional<SecretKey>& key) {
  if (key && identity_.present && key->equals(identity_.private_key)) return;
  if (key) {
    identity_.private_key = *key;
    identity_.public_key = public_key_of(*key);
    identity_.present = true;
    if (Peer* self = find_peer(identity_.public_key)) remove_peer(self->public_key());
  } else {
    identity_ = LocalIdentity{};
  }
  cookie_checker_.init(identity_.public_key);
  // Sessions made with the old key are no longer ours.
  for (Peer* peer : peers()) {
    peer->handshake.precompute(identity_);
    peer->handshake.clear();
    zero_key_material(*peer);
  }
}

Peer* Device::find_peer(const PublicKey& key) {
  auto it = peer_by_key_.find(key);
  return it == peer_by_key_.end() ? nullptr : peer_by_id(it->second);
}

Peer* Device::peer_by_id(PeerId id) {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : it->second.get();
}

Peer& Device::add_peer(const PublicKey& key) {
  if (Peer* existing = find_peer(key)) return *existing;
  auto peer = std::make_unique<Peer>();
  peer->id = next_peer_id_++;
  peer->handshake.remote_static = key;
  peer->handshake.precompute(identity_);
  peer->cookie.init(key);
  Peer& ref = *peer;
  peers_.emplace(ref.id, std::move(peer));
  peer_by_key_.emplace(key, ref.id);
  peer_order_.push_back(ref.id);
  return ref;
}

void Device::remove_peer(const PublicKey& key) {
  Peer* peer = find_peer(key);
  if (!peer) return;
  const PeerId id = peer->id;
  zero_key_material(*peer);  // also releases the peer's indices
  allowed_ips_.remove_peer(id);
  std::erase(peer_order_, id);
  peer_by_key_.erase(key);
  peers_.erase(id);
}

void Device::remove_all_peers() {
  while (!peer_order_.empty()) remove_peer(peers_.at(peer_order_.back())->public_key());
}

void Device::set_preshared_key(Peer& peer, const std::optional<SecretKey>& psk) {
  if (psk) {
    peer.handshake.preshared = *psk;
  } else {
    peer.handshake.preshared.wipe();
  }
}

std::vector<Peer*> Device::peers() {
  std::vector<Peer*> out;
  out.reserve(peer_order_.size());
  for (PeerId id : peer_order_) out.push_back(peers_.at(id).get());
  return out;
}

uint32_t Device::allocate_index(PeerId peer) {
  for (;;) {
    const uint32_t index = random_u32();
    if (index != 0 && indices_.emplace(index, peer).second) return index;
  }
}

void Device::release_index(uint32_t index) { indices_.erase(index); }

void Device::drop_keypair(std::unique_ptr<Keypair>& slot) {
  if (!slot) return;
  release_index(slot->local_index);  // a keypair keeps its handshake's index
  slot.reset();                      // SecretKey members wipe themselves
}

// As the Linux module's noise.c: an initiator's new keypair is usable at once; a
// responder's waits in `next` until the initiator proves it has it.
void Device::install_keypair(Peer& peer, const SessionKeys& keys, platform::TimePoint now) {
  Keypairs& kp = peer.keypairs;
  auto fresh = std::make_unique<Keypair>(keys, now);
  if (keys.initiator) {
    drop_keypair(kp.previous);
    if (kp.next) {
      kp.previous = std::move(kp.next);
      drop_keypair(kp.current);
    } else {
      kp.previous = std::move(kp.current);
    }
    kp.current = std::move(fresh);
  } else {
    drop_keypair(kp.next);
    drop_keypair(kp.previous);
    kp.next = std::move(fresh);
  }
}

void Device::zero_key_material(Peer& peer) {
  drop_keypair(peer.keypairs.current);
  drop_keypair(peer.keypairs.previous);
  drop_keypair(peer.keypairs.next);
  if (peer.handshake.local_index) release_index(peer.handshake.local_index);
  peer.handshake.clear();
  peer.timers.zero_key_material.reset();
}

// The batch's jobs, through the driver's runner when it set one.
void Device::run_crypto(bool seal) {
  if (crypto_) {
    crypto_(jobs_, seal);
  } else if (seal) {
    chacha20poly1305_seal(jobs_);
  } else {
    chacha20poly1305_open(jobs_);
  }
}

}  // namespace qvpn::dataplane
