#pragma once
// A WireGuard interface as a sans-IO state machine: the set of peers, cryptokey routing,
// handshakes, sessions and timers. It owns no socket, thread or clock. A driver feeds it
//   - IP packets read from the TUN device         -> handle_tun_packet(pkt, now, sink)
//   - datagrams read from the UDP socket          -> handle_datagram(bytes, from, now, sink)
//   - the passage of time                         -> tick(now, sink) at next_deadline()
// and it answers through the Sink: datagrams to send and IP packets to write to the TUN.
// Not thread-safe: one driver thread, or the driver serialises calls.
//
// Batches: handle_tun_packets and handle_datagrams take many packets at once, seal or open
// all of them in one call of the batch AEAD (which a driver's CryptoRunner may spread over
// threads), and answer through the Sink's batch calls, in order, so each peer's packets
// keep their order.
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
#include "dataplane/chacha20poly1305.h"
#include "dataplane/cookie.h"
#include "dataplane/device_counters.h"
#include "dataplane/noise.h"
#include "dataplane/peer.h"
#include "dataplane/ratelimiter.h"
#include "platform/clock.h"
#include "platform/endpoint.h"
#include "platform/udp_socket.h"

namespace qvpn::dataplane {

// Room the batch calls need around each outbound packet, to build the transport message
// in place: the header before it, padding and the tag after it.
inline constexpr size_t kBatchHeadroom = kTransportHeaderSize;
inline constexpr size_t kBatchTailroom = kPaddingMultiple - 1 + kAeadTagSize;

struct InboundDatagram {
  std::span<uint8_t> bytes;  // decrypted in place
  platform::Endpoint from;
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual void send_datagram(std::span<const uint8_t> bytes, const platform::Endpoint& to) = 0;
  virtual void write_tun(std::span<const uint8_t> ip_packet) = 0;
  // The batch calls' output, in order; the bytes are valid only during the call.
  virtual void send_datagrams(std::span<const platform::OutDatagram> datagrams) {
    for (const auto& d : datagrams) send_datagram(d.bytes, d.to);
  }
  virtual void write_tun_packets(std::span<const std::span<const uint8_t>> packets) {
    for (const auto& p : packets) write_tun(p);
  }
};

// Seals (seal == true) or opens a batch of AEAD jobs, returning when all are done. A driver
// may spread them over threads; the default runs them on the calling thread.
using CryptoRunner = std::function<void(std::span<AeadJob> jobs, bool seal)>;

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
  // The same for many at once. Each outbound packet needs kBatchHeadroom writable bytes
  // before it and kBatchTailroom after it; its transport message is built there.
  void handle_tun_packets(std::span<const std::span<uint8_t>> ip_packets, platform::TimePoint now,
                          Sink& sink);
  void handle_datagrams(std::span<const InboundDatagram> datagrams, platform::TimePoint now,
                        Sink& sink);
  void set_crypto_runner(CryptoRunner runner) { crypto_ = std::move(runner); }
  void tick(platform::TimePoint now, Sink& sink);
  std::optional<platform::TimePoint> next_deadline() const;

  const DeviceCounters& counters() const { return counters_; }
  // For the driver: a TUN read it could not turn into packets (dataplane/gso_split.h).
  void count_tun_malformed() { ++counters_.drop_tun_malformed; }
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

  AeadJob frame_transport(Keypair& kp, uint8_t* message, size_t packet_length) const;
  void account_sent(Peer& peer, size_t message_length, bool is_data, platform::TimePoint now);

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
  // The keypair a transport message is for, or nullptr (counted).
  Keypair* transport_keypair(std::span<const uint8_t> bytes, Peer*& peer, platform::TimePoint now);
  // After a transport message authenticated: replay check, roaming, keypair confirmation,
  // timers and the source check. Returns the inner packet to deliver, or an empty span.
  std::span<const uint8_t> accept_transport(Peer& peer, Keypair& kp, uint64_t counter,
                                            size_t message_length, std::span<const uint8_t> plain,
                                            const platform::Endpoint& from,
                                            platform::TimePoint now, Sink& sink);
  void open_pending(platform::TimePoint now, Sink& sink);
  bool under_load(platform::TimePoint now);

  // device.cc: indices and keypairs
  uint32_t allocate_index(PeerId peer);
  void release_index(uint32_t index);
  void install_keypair(Peer& peer, const SessionKeys& keys, platform::TimePoint now);
  void drop_keypair(std::unique_ptr<Keypair>& slot);
  void zero_key_material(Peer& peer);
  void run_crypto(bool seal);  // jobs_

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

  // Batch state, reused from call to call so batches do not allocate.
  CryptoRunner crypto_;
  std::vector<AeadJob> jobs_;
  std::vector<platform::OutDatagram> out_;
  struct PendingOpen {
    PeerId peer;
    uint32_t local_index;
    uint64_t counter;
    size_t length;
    const InboundDatagram* datagram;
  };
  std::vector<PendingOpen> pending_;
  std::vector<std::span<const uint8_t>> deliver_;
};

}  // namespace qvpn::dataplane
