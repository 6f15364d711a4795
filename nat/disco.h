#pragma once
// Disco: the messages two peers exchange to find a direct path (docs/protocol/disco.md).
// They share the WireGuard UDP port, so the first bytes tell them apart:
//   magic "qvdisc" (6) | sender's public key (32) | nonce (24) | crypto_box(plaintext)
//   plaintext: version (1) = 1 | type (1) | body
// The box is libsodium's crypto_box (X25519, XSalsa20-Poly1305) between the two peers'
// WireGuard keys, so only a configured peer can make one and only its peer can read it.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "dataplane/keys.h"
#include "platform/endpoint.h"

namespace qvpn::nat {

inline constexpr std::array<uint8_t, 6> kDiscoMagic = {'q', 'v', 'd', 'i', 's', 'c'};
inline constexpr uint8_t kDiscoVersion = 1;
inline constexpr size_t kDiscoMaxSize = 1024;
inline constexpr size_t kDiscoMaxEndpoints = 16;

using DiscoTxId = std::array<uint8_t, 12>;

struct DiscoPing {
  DiscoTxId txid;
  bool operator==(const DiscoPing&) const = default;
};
// The pinged side's answer, with the source it saw the ping come from (empty through the
// relay).
struct DiscoPong {
  DiscoTxId txid;
  platform::Endpoint src;
  bool operator==(const DiscoPong&) const = default;
};
// Sent through the relay: "here are my candidates, punch toward them" (nat/peer_path.h).
struct DiscoCallMeMaybe {
  std::vector<platform::Endpoint> endpoints;
  uint8_t generation = 0;  // of these endpoints: it changes when they do
  // The generation of the receiver's endpoints toward which the sender has opened its NAT.
  std::optional<uint8_t> opened_toward;
  bool hard_nat = false;  // the sender's NAT maps per destination and it has no port mapping
  bool operator==(const DiscoCallMeMaybe&) const = default;
};
using DiscoMessage = std::variant<DiscoPing, DiscoPong, DiscoCallMeMaybe>;

DiscoTxId new_disco_txid();
// The magic and room for a key, a nonce and a MAC: worth a look up of the sender.
bool is_disco(std::span<const uint8_t> bytes);
std::optional<dataplane::PublicKey> disco_sender(std::span<const uint8_t> bytes);

// The precomputed shared key of one pair of peers; wiped on destruction.
class DiscoBox {
 public:
  DiscoBox(const dataplane::SecretKey& ours, const dataplane::PublicKey& theirs);
  ~DiscoBox();
  DiscoBox(const DiscoBox&) = delete;
  DiscoBox& operator=(const DiscoBox&) = delete;

  std::vector<uint8_t> seal(const DiscoMessage& message, const dataplane::PublicKey& our_public) const;
  // nullopt: not disco, a box that does not open, or a plaintext that does not parse.
  std::optional<DiscoMessage> open(std::span<const uint8_t> bytes) const;

 private:
  std::array<uint8_t, 32> shared_;
};

}  // namespace qvpn::nat
