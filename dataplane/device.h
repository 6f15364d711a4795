#pragma once
// A WireGuard interface as a sans-IO state machine: the set of peers, cryptokey routing,
// handshakes, sessions and timers. It owns no socket, thread or clock. A driver feeds it
//   - IP packets read from the TUN device         -> handle_tun_packet(pkt, now, sink)
//   - datagrams read from the UDP socket          -> handle_datagram(bytes, from, now, sink)
//   - the passage of time                         -> tick(now, sink) at next_deadline()
// and it answers through the Sink: datagrams to send and IP packets to write to the TUN.
// Not thread-safe: one driver thread, or the driver serialises calls.
//
// Outbound flow (TUN -> network):  route by destination (allowed IPs) -> stage if no
//   session (and start a handshake) -> pad to 16 -> encrypt with current keypair -> send.
// Inbound flow (network -> TUN):  classify by type -> handshake messages: MAC1, under
//   load MAC2 or a cookie reply, rate limit, Noise -> transport data: keypair by index,
//   decrypt, replay window, roam endpoint, source-address check -> deliver.
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "dataplane/allowed_ips.h"
#include "dataplane/cookie.h"
#include "dataplane/device_counters.h"
#include "dataplane/noise.h"
#include "dataplane/peer.h"
#include "dataplane/ratelimiter.h"
#include "platform/clock.h"
#include "platform/endpoint.h"

namespace qvpn::dataplane {

class Sink {
 public:
  virtual ~Sink() = default;
  virtual void send_datagram(std::span<const uint8_t> bytes, const platform::Endpoint& to) = 0;
  virtual void write_tun(std::span<const uint8_t> ip_packet) = 0;
};

class Device {
 public:
  using WallClock = std::function<platform::WallTime()>;
  explicit Device(WallClock wall_clock = [] { return std::chrono::system_clock::now(); });
  ~Device();

  // --- configuration (the UAPI and config files map onto these) ---
  // Sets or removes (nullopt) the interface's private key. A peer whose public key equals
  // the new public key is removed, as in the Linux module.
  void set_private_key(const std::optional<SecretKey>& key);
  const LocalIdentity& identity() const { return identity_; }
  void set_mtu(size_t mtu) { mtu_ = mtu; }

  Peer* find_peer(const PublicKey& key);
  Peer* peer_by_id(PeerId id);
  Peer& add_peer(const PublicKey& key);  // returns the existing one if present
  void remove_peer(const PublicKey& key);
  void remove_all_peers();
  void set_preshared_key(Peer& peer, const std::optional<SecretKey>& psk);
  void set_endpoint(Peer& peer, const platform::Endpoint& ep) { peer.endpoint = ep; }
  // Sets the persistent keepalive interval (seconds); a non-zero value sends a keepalive
  // at once, as wg(8) users expect.
  void set_persistent_keepalive(Peer& peer, uint16_t seconds, platform::TimePoint now, Sink& sink);
  void add_allowed_ip(Peer& peer, const IpPrefix& prefix) { allowed_ips_.insert(prefix, peer.id); }
  void clear_allowed_ips(Peer& peer) { allowed_ips_.remove_peer(peer.id); }
  std::vector<IpPrefix> allowed_ips_of(const Peer& peer) const {
    return allowed_ips_.prefixes_of(peer.id);
  }
  std::vector<Peer*> peers();  // in the order they were added

  // --- packets and time ---
  void handle_tun_packet(std::span<const uint8_t> ip_packet, platform::TimePoint now, Sink& sink);
  void handle_datagram(std::span<const uint8_t> bytes, const platform::Endpoint& from,
                       platform::TimePoint now, Sink& sink);
  void tick(platform::TimePoint now, Sink& sink);
  std::optional<platform::TimePoint> next_deadline() const;

  const DeviceCounters& counters() const { return counters_; }
  const RateLimiter& rate_limiter() const { return rate_limiter_; }
  // Handshake messages per second above which the device is "under load" and demands
  // cookies (MAC2). Tests lower it.
  void set_under_load_threshold(uint32_t per_second) { under_load_threshold_ = per_second; }

 private:
  // device_send.cc
  void send_staged(Peer& peer, platform::TimePoint now, Sink& sink);
  bool encrypt_and_send(Peer& peer, Keypair& kp, std::span<const uint8_t> packet,
                        platform::TimePoint now, Sink& sink);
  void send_keepalive(Peer& peer, platform::TimePoint now, Sink& sink);
  // Sends an initiation unless one went out less than Rekey-Timeout ago (is_retry skips
  // that check and counts an attempt).
  void send_initiation(Peer& peer, bool is_retry, platform::TimePoint now, Sink& sink);
  void send_handshake_message(Peer& peer, std::span<uint8_t> msg, platform::TimePoint now,
                              Sink& sink);
  void keep_key_fresh_on_send(Peer& peer, platform::TimePoint now, Sink& sink);

  // device_receive.cc
  void receive_handshake(std::span<const uint8_t> bytes, const platform::Endpoint& from,
                         MessageType type, platform::TimePoint now, Sink& sink);
  void receive_initiation(std::span<const uint8_t> bytes, const platform::Endpoint& from,
                          platform::TimePoint now, Sink& sink);
  void receive_response(std::span<const uint8_t> bytes, const platform::Endpoint& from,
                        platform::TimePoint now, Sink& sink);
  void receive_cookie_reply(std::span<const uint8_t> bytes, platform::TimePoint now);
  void keep_key_fresh_on_receive(Peer& peer, platform::TimePoint now, Sink& sink);
  void receive_transport(std::span<const uint8_t> bytes, const platform::Endpoint& from,
                         platform::TimePoint now, Sink& sink);
  bool under_load(platform::TimePoint now);

  // device.cc: indices and keypairs
  uint32_t allocate_index(PeerId peer);
  void release_index(uint32_t index);
  void install_keypair(Peer& peer, const SessionKeys& keys, platform::TimePoint now);
  void drop_keypair(std::unique_ptr<Keypair>& slot);
  void zero_key_material(Peer& peer);

  // timers.cc: one hook per whitepaper rule, named for the event that calls it.
  void on_data_sent(Peer& peer, platform::TimePoint now);
  void on_data_received(Peer& peer, platform::TimePoint now);
  void on_any_authenticated_packet_sent(Peer& peer);
  void on_any_authenticated_packet_received(Peer& peer);
  void on_any_authenticated_packet_traversal(Peer& peer, platform::TimePoint now);
  void on_handshake_initiated(Peer& peer, platform::TimePoint now);
  void on_handshake_complete(Peer& peer);
  void on_session_derived(Peer& peer, platform::TimePoint now);
  void run_timers(Peer& peer, platform::TimePoint now, Sink& sink);

  WallClock wall_clock_;
  LocalIdentity identity_;
  CookieChecker cookie_checker_;
  RateLimiter rate_limiter_;
  AllowedIps allowed_ips_;
  // Public keys are uniformly random, so their first bytes hash well; only root can add
  // peers, so no attacker picks them.
  struct PublicKeyHash {
    size_t operator()(const PublicKey& k) const {
      size_t h;
      std::memcpy(&h, k.bytes.data(), sizeof(h));
      return h;
    }
  };
  std::unordered_map<PeerId, std::unique_ptr<Peer>> peers_;
  std::unordered_map<PublicKey, PeerId, PublicKeyHash> peer_by_key_;
  std::vector<PeerId> peer_order_;
  std::unordered_map<uint32_t, PeerId> indices_;  // local index -> peer
  PeerId next_peer_id_ = 1;
  size_t mtu_ = kDefaultMtu;
  DeviceCounters counters_;

  uint32_t under_load_threshold_ = kUnderLoadQueueSize;
  platform::TimePoint load_window_start_{};
  uint32_t load_window_count_ = 0;
  std::optional<platform::TimePoint> last_under_load_;

  // One message being built, and one being decrypted: receiving a packet may send others
  // (staged packets, an initiation) before the received one is delivered.
  std::vector<uint8_t> tx_buf_;
  std::vector<uint8_t> rx_buf_;
};

}  // namespace qvpn::dataplane
