// Fuzzes Device::handle_datagram, with the timers and TUN path around it, on two devices A
// (10.0.0.1, fd00::1) and B (10.0.0.2, fd00::2) that know each other through fixed keys.
// Each input starts from fresh devices on a fake clock, so a run depends only on its input
// (and on the indices, ephemerals and timer jitter the devices draw for themselves).
//
// Input: one flags byte, then operations until the input runs out:
//   op = kind (bits 0-2) | target A or B (bit 3) | source (bits 4-5)
//   0 raw      len16 bytes            target.handle_datagram(bytes) from source
//   1 mutate   tmpl len16 mask resize a real message XOR mask, grown or cut by a signed
//                                     byte, to target from source
//   2 time     t16                    advance the clock (ms, or s when the top bit is set),
//                                     firing both devices' timers and delivering
//   3 A sends  size                   an IP packet into A's TUN, then deliver
//   4 B sends  size                   the same from B
//   5 deliver  count                  deliver up to count queued datagrams, in order
//   6 lose     -                      drop everything queued
//   7 tun      len16 bytes            target.handle_tun_packet(bytes)
// Real messages are those captured once from a complete handshake at start-up (the
// initiation is valid for any fresh B) and every datagram sent so far in this run, so the
// fuzzer can reach the transport path with keys it could never guess.
//
// Checked besides the sanitizers: every packet a device writes to its TUN is one the other
// device was given to send (up to the zero padding), so no forgery is ever delivered.
// Keys are tests/support key_bytes 1 (A), 2 (B) and 3 (the preshared key).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <span>
#include <vector>

#include "dataplane/device.h"
#include "support/fuzz_reader.h"
#include "support/keys.h"

namespace {

using namespace qvpn;
using namespace std::chrono_literals;
using dataplane::Device;
using platform::Endpoint;
using platform::TimePoint;

constexpr size_t kMaxOps = 32;
constexpr size_t kMaxDeliveriesPerOp = 256;  // devices do not ping-pong forever; still bound it
constexpr size_t kMaxTimerRounds = 8;        // per time op; the last tick fires whatever is left
constexpr size_t kMaxDynamicTemplates = 32;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_device_datagram: %s\n", what);
  std::abort();
}

Endpoint parse_endpoint(const char* text) { return *Endpoint::parse(text); }

using Reader = qvpn::test::FuzzReader;

struct Datagram {
  std::vector<uint8_t> bytes;
  Endpoint from;
  Endpoint to;
};

class World;

struct Node : dataplane::Sink {
  Node(World& w, const char* ep) : world(w), endpoint(parse_endpoint(ep)) {}
  void send_datagram(std::span<const uint8_t> bytes, const Endpoint& to) override;
  void write_tun(std::span<const uint8_t> ip_packet) override;

  World& world;
  Endpoint endpoint;
  std::unique_ptr<Device> device;
  Node* other = nullptr;
  std::vector<std::vector<uint8_t>> given;  // packets handed to this node's TUN side
};

class World {
 public:
  explicit World(uint8_t flags) : a_(*this, "192.0.2.1:51820"), b_(*this, "198.51.100.2:51821") {
    a_.other = &b_;
    b_.other = &a_;
    const auto key_a = test::secret(1), key_b = test::secret(2);
    for (Node* n : {&a_, &b_}) {
      n->device = std::make_unique<Device>([this] { return wall(); });
    }
    a_.device->set_private_key(key_a);
    b_.device->set_private_key(key_b);
    auto& b_at_a = a_.device->add_peer(b_.device->identity().public_key);
    auto& a_at_b = b_.device->add_peer(a_.device->identity().public_key);
    a_.device->set_endpoint(b_at_a, b_.endpoint);
    b_.device->set_endpoint(a_at_b, a_.endpoint);
    a_.device->add_allowed_ip(b_at_a, *dataplane::IpPrefix::parse("10.0.0.2/32"));
    a_.device->add_allowed_ip(b_at_a, *dataplane::IpPrefix::parse("fd00::2/128"));
    b_.device->add_allowed_ip(a_at_b, *dataplane::IpPrefix::parse("10.0.0.1/32"));
    b_.device->add_allowed_ip(a_at_b, *dataplane::IpPrefix::parse("fd00::1/128"));
    if (flags & 0x02) b_.device->set_under_load_threshold(1);
    if (flags & 0x04) a_.device->set_under_load_threshold(1);
    if (flags & 0x08) {
      const auto psk = test::secret(3);
      a_.device->set_preshared_key(b_at_a, psk);
      if (!(flags & 0x10)) b_.device->set_preshared_key(a_at_b, psk);  // else: they disagree
    }
    if (flags & 0x20) a_.device->set_persistent_keepalive(b_at_a, 1, now_, a_);
    if (flags & 0x40) a_.device->set_mtu(1 + (flags & 0x80 ? 65535 : 100));
    deliver(kMaxDeliveriesPerOp);
  }

  Node& a() { return a_; }
  Node& b() { return b_; }
  TimePoint now() const { return now_; }
  platform::WallTime wall() const {
    return platform::WallTime(std::chrono::seconds(1'700'000'000)) +
           std::chrono::duration_cast<std::chrono::system_clock::duration>(now_.time_since_epoch());
  }

  void sent(Datagram d) {
    if (dynamic_.size() == kMaxDynamicTemplates) dynamic_.pop_front();
    dynamic_.push_back(d.bytes);
    wire_.push_back(std::move(d));
  }
  void deliver(size_t max) {
    for (size_t i = 0; i < max && !wire_.empty(); ++i) {
      Datagram d = std::move(wire_.front());
      wire_.pop_front();
      for (Node* n : {&a_, &b_}) {
        if (n->endpoint == d.to) n->device->handle_datagram(d.bytes, d.from, now_, *n);
      }
    }
  }
  void lose() { wire_.clear(); }
  void advance(platform::Duration by) {
    const TimePoint end = now_ + by;
    for (size_t round = 0; round < kMaxTimerRounds; ++round) {
      std::optional<TimePoint> next;
      for (Node* n : {&a_, &b_}) {
        const auto t = n->device->next_deadline();
        if (t && (!next || *t < *next)) next = t;
      }
      if (!next || *next > end) break;
      now_ = std::max(now_, *next);
      tick_and_deliver();
    }
    now_ = end;
    tick_and_deliver();
  }
  const std::vector<uint8_t>* real_message(size_t i) const {
    const auto& fixed = captured();
    const size_t n = fixed.size() + dynamic_.size();
    i %= n;
    return i < fixed.size() ? &fixed[i] : &dynamic_[i - fixed.size()];
  }
  // A complete handshake between fresh devices, with a data packet each way, a cookie
  // reply and a keepalive, captured once.
  static const std::vector<std::vector<uint8_t>>& captured();

 private:
  void tick_and_deliver() {
    for (Node* n : {&a_, &b_}) n->device->tick(now_, *n);
    deliver(kMaxDeliveriesPerOp);
  }
  TimePoint now_{std::chrono::hours(1)};
  Node a_, b_;
  std::deque<Datagram> wire_;
  std::deque<std::vector<uint8_t>> dynamic_;
};

void Node::send_datagram(std::span<const uint8_t> bytes, const Endpoint& to) {
  if (bytes.size() > dataplane::kMaxMessageSize) fail("sent a datagram over kMaxMessageSize");
  world.sent({{bytes.begin(), bytes.end()}, endpoint, to});
}

// Decryption strips the padding by the inner length field, so what arrives is what was sent
// followed by at most a padding's worth of zeros (when the header claimed more).
void Node::write_tun(std::span<const uint8_t> p) {
  for (const auto& g : other->given) {
    if (p.size() > g.size() + dataplane::kPaddingMultiple) continue;
    bool same = true;
    for (size_t i = 0; i < p.size() && same; ++i) same = p[i] == (i < g.size() ? g[i] : 0);
    if (same) return;
  }
  fail("a device wrote a packet to its TUN that its peer was never given");
}

std::vector<uint8_t> ip_packet(bool v6, bool from_a, size_t payload, uint8_t fill) {
  if (!v6) {
    std::vector<uint8_t> p(20 + payload, fill);
    std::fill(p.begin(), p.begin() + 20, 0);
    p[0] = 0x45;
    p[2] = static_cast<uint8_t>(p.size() >> 8);
    p[3] = static_cast<uint8_t>(p.size());
    p[8] = 64;
    p[9] = 17;
    const uint8_t src[4] = {10, 0, 0, uint8_t(from_a ? 1 : 2)};
    const uint8_t dst[4] = {10, 0, 0, uint8_t(from_a ? 2 : 1)};
    std::memcpy(&p[12], src, 4);
    std::memcpy(&p[16], dst, 4);
    return p;
  }
  std::vector<uint8_t> p(40 + payload, fill);
  std::fill(p.begin(), p.begin() + 40, 0);
  p[0] = 0x60;
  p[4] = static_cast<uint8_t>(payload >> 8);
  p[5] = static_cast<uint8_t>(payload);
  p[6] = 59;
  p[7] = 64;
  p[8] = p[24] = 0xfd;
  p[23] = from_a ? 1 : 2;
  p[39] = from_a ? 2 : 1;
  return p;
}

void tun_send(World& w, Node& n, std::span<const uint8_t> packet) {
  n.given.emplace_back(packet.begin(), packet.end());
  n.device->handle_tun_packet(packet, w.now(), n);
}

const std::vector<std::vector<uint8_t>>& World::captured() {
  static const auto messages = [] {
    World w(0x02);  // B demands cookies when loaded, so one can be captured
    tun_send(w, w.a(), ip_packet(false, true, 64, 0x11));
    w.deliver(kMaxDeliveriesPerOp);  // initiation, response, data
    tun_send(w, w.b(), ip_packet(true, false, 48, 0x22));
    w.deliver(kMaxDeliveriesPerOp);
    std::vector<std::vector<uint8_t>> out(w.dynamic_.begin(), w.dynamic_.end());
    // The initiation again, twice at once: B is under load and answers with a cookie.
    for (int i = 0; i < 2; ++i) {
      w.b().device->handle_datagram(out[0], w.a().endpoint, w.now(), w.b());
    }
    w.advance(11s);  // and a keepalive
    for (size_t i = out.size(); i < w.dynamic_.size(); ++i) out.push_back(w.dynamic_[i]);
    return out;
  }();
  return messages;
}

Endpoint source(const Node& target, unsigned which) {
  static const Endpoint elsewhere = parse_endpoint("203.0.113.9:4444");
  static const Endpoint v6 = parse_endpoint("[2001:db8::1]:51820");
  Endpoint ep = target.other->endpoint;
  switch (which & 3) {
    case 0:
      return ep;
    case 1:  // the peer's address from another port, as after a NAT rebinding
      ep.port ^= 0x4000;
      return ep;
    case 2:
      return elsewhere;
    default:
      return v6;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World::captured();  // before anything else, so a run never pays for it
  Reader in({data, size});
  const auto flags = static_cast<uint8_t>(in.take(1));
  World w(flags);
  if (flags & 0x01) {  // start with a session
    tun_send(w, w.a(), ip_packet(false, true, 32, 0x33));
    w.deliver(kMaxDeliveriesPerOp);
  }
  std::vector<uint8_t> buf;
  for (size_t op = 0; op < kMaxOps && !in.empty(); ++op) {
    const uint8_t code = static_cast<uint8_t>(in.take(1));
    Node& target = code & 0x08 ? w.a() : w.b();
    const Endpoint from = source(target, code >> 4);
    switch (code & 7) {
      case 0: {
        const auto bytes = in.bytes(in.take(2));
        target.device->handle_datagram(bytes, from, w.now(), target);
        w.deliver(kMaxDeliveriesPerOp);
        break;
      }
      case 1: {
        buf = *w.real_message(in.take(1));
        const auto mask = in.bytes(in.take(2));
        for (size_t i = 0; i < mask.size() && i < buf.size(); ++i) buf[i] ^= mask[i];
        const int resize = static_cast<int8_t>(in.take(1));
        if (resize < 0) {
          buf.resize(buf.size() - std::min<size_t>(buf.size(), size_t(-resize)));
        } else if (resize > 0) {
          buf.resize(buf.size() + size_t(resize), 0);
        }
        target.device->handle_datagram(buf, from, w.now(), target);
        w.deliver(kMaxDeliveriesPerOp);
        break;
      }
      case 2: {
        const uint32_t t = in.take(2);
        w.advance(t & 0x8000 ? platform::Duration(std::chrono::seconds(t & 0x7fff))
                             : platform::Duration(std::chrono::milliseconds(t)));
        break;
      }
      case 3:
      case 4: {
        const uint32_t s = in.take(1);
        Node& n = (code & 7) == 3 ? w.a() : w.b();
        tun_send(w, n, ip_packet(s & 0x80, &n == &w.a(), (s & 0x7f) * 11, uint8_t(code)));
        w.deliver(kMaxDeliveriesPerOp);
        break;
      }
      case 5:
        w.deliver(in.take(1));
        break;
      case 6:
        w.lose();
        break;
      default: {
        const auto bytes = in.bytes(in.take(2));
        tun_send(w, target, bytes);
        w.deliver(kMaxDeliveriesPerOp);
        break;
      }
    }
  }
  return 0;
}
