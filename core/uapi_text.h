#pragma once
// The text of the WireGuard cross-platform userspace API (wireguard.com/xplatform), which
// `wg` and `wg-quick` speak over /var/run/wireguard/IFACE.sock. Pure parse and format; the
// socket, the framing ("set=1\n" / "get=1\n", the blank line) and applying a set to the
// device live elsewhere. Behaviour, key order and errno values follow wireguard-go
// (device/uapi.go, ipc/uapi_unix.go), so that wg(8) reads qvpn as it reads wireguard-go.
#include <cerrno>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "dataplane/ip_prefix.h"
#include "dataplane/keys.h"
#include "platform/endpoint.h"

namespace qvpn::core {

// errno values a UAPI answer carries, as wireguard-go's ipc package names them. They are
// positive here and negated on the wire (see format_uapi_errno).
inline constexpr int kUapiErrorIo = EIO;                // reading or writing the socket
inline constexpr int kUapiErrorProtocol = EPROTO;       // a line without '='
inline constexpr int kUapiErrorInvalid = EINVAL;        // bad value or unknown key
inline constexpr int kUapiErrorPortInUse = EADDRINUSE;  // listen_port or fwmark could not bind
inline constexpr int kUapiErrorUnknown = 55;            // ENOANO: anything else

// One peer's part of a set operation, from its public_key line to the next one. Fields
// unset here leave the device's value alone.
struct UapiPeerSet {
  dataplane::PublicKey public_key;
  // remove=true: delete the peer. Later lines for it are checked but have no effect.
  bool remove = false;
  // update_only=true: change the peer only if it exists; never create it.
  bool update_only = false;
  // All-zero means "no preshared key".
  std::optional<dataplane::SecretKey> preshared_key;
  std::optional<platform::Endpoint> endpoint;
  std::optional<uint16_t> persistent_keepalive;  // seconds, 0 = off
  // replace_allowed_ips=true: drop the peer's allowed IPs before adding allowed_ips. Any
  // allowed_ip lines before it in the same section are dropped too, as wireguard-go does.
  bool replace_allowed_ips = false;
  // In order; host bits cleared.
  std::vector<dataplane::IpPrefix> allowed_ips;
};

// A parsed set operation, applied in order: device fields, replace_peers, then each peer.
// The same public key may appear in several entries; they apply one after the other.
struct UapiSet {
  // All-zero means "remove the private key" (wg set wg0 private-key /dev/null).
  std::optional<dataplane::SecretKey> private_key;
  std::optional<uint16_t> listen_port;  // 0 = choose a free port
  std::optional<uint32_t> fwmark;       // 0 = off
  bool replace_peers = false;
  std::vector<UapiPeerSet> peers;
};

struct UapiError {
  int errno_value = 0;  // positive: kUapiErrorInvalid, kUapiErrorProtocol...
  std::string message;  // for the log, never sent to the client
};

// Parses the body of a set operation: the lines after "set=1", up to and excluding the
// blank line that ends it (anything after a blank line is ignored; a missing final newline
// is accepted, and one '\r' before each '\n' is dropped, as Go's bufio.Scanner does).
// Keys and values are as wg(8) writes them: hex keys, decimal numbers, "true" flags,
// literal endpoints, allowed_ip with a "/len". The first bad line is reported with
// wireguard-go's errno: kUapiErrorProtocol for a line without '=', kUapiErrorInvalid for an
// unknown key (including a peer key before any public_key) or a bad value. Nothing is
// partially returned.
std::variant<UapiSet, UapiError> parse_uapi_set(std::string_view body);

struct UapiPeerState {
  dataplane::PublicKey public_key;
  std::optional<dataplane::SecretKey> preshared_key;  // unset prints as all zeros
  std::optional<platform::Endpoint> endpoint;         // unset prints no endpoint line
  uint16_t persistent_keepalive = 0;
  int64_t last_handshake_sec = 0;  // wall clock, Unix epoch; 0,0 = never
  int64_t last_handshake_nsec = 0;
  uint64_t rx_bytes = 0;
  uint64_t tx_bytes = 0;
  std::vector<dataplane::IpPrefix> allowed_ips;
};

struct UapiState {
  std::optional<dataplane::SecretKey> private_key;  // unset or zero prints no line
  uint16_t listen_port = 0;                         // 0 prints no line
  uint32_t fwmark = 0;                              // 0 prints no line
  std::vector<UapiPeerState> peers;                 // printed in this order
};

// The complete answer to "get=1\n\n", as wireguard-go writes it: private_key, listen_port,
// fwmark (each only when set), then per peer public_key, preshared_key (zeros when none),
// protocol_version=1, endpoint (when known), last_handshake_time_sec,
// last_handshake_time_nsec, tx_bytes, rx_bytes, persistent_keepalive_interval and one
// allowed_ip line each; then "errno=0\n\n". The text holds the private key: wipe it after
// sending.
std::string format_uapi_get(const UapiState& state);

// The client side: parses a get=1 answer. Throws std::runtime_error on a malformed line or
// number, or an errno other than 0.
UapiState parse_uapi_get(std::string_view answer);
// Parses the "key=value" lines of a get=qvpn answer (the node's counters), errno excluded.
std::map<std::string, uint64_t> parse_uapi_counters(std::string_view answer);

// "errno=N\n\n" ending a set or get answer. wireguard-go sends the negated errno
// ("errno=-22") and wg(8) negates it back, so a positive errno_value is written negated;
// 0 (success) and values already negative are written as given.
std::string format_uapi_errno(int errno_value);

}  // namespace qvpn::core
