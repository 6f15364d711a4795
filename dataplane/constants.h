#pragma once
// WireGuard constants. Specification values carry the whitepaper's names (section 6.1);
// implementation choices are kept apart below.
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace qvpn::dataplane {

using namespace std::chrono_literals;

// --- Specification (whitepaper 6.1, 5.4) ---
inline constexpr uint64_t kRekeyAfterMessages = uint64_t{1} << 60;
inline constexpr uint64_t kRejectAfterMessages = UINT64_MAX - (uint64_t{1} << 13);
inline constexpr auto kRekeyAfterTime = 120s;
inline constexpr auto kRejectAfterTime = 180s;
inline constexpr auto kRekeyAttemptTime = 90s;
inline constexpr auto kRekeyTimeout = 5s;
inline constexpr auto kKeepaliveTimeout = 10s;
inline constexpr auto kCookieRefreshTime = 120s;
inline constexpr auto kRekeyTimeoutJitterMax = 333ms;

inline constexpr char kConstruction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
inline constexpr char kIdentifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";
inline constexpr char kLabelMac1[] = "mac1----";
inline constexpr char kLabelCookie[] = "cookie--";

// --- Implementation choices (as in the Linux module and wireguard-go) ---
inline constexpr size_t kMaxStagedPackets = 128;       // packets queued per peer awaiting a session
inline constexpr size_t kMaxPeers = 1u << 20;
inline constexpr uint32_t kHandshakesPerSecond = 20;   // per source address, before rate limiting
inline constexpr uint32_t kHandshakeBurst = 5;
inline constexpr uint32_t kUnderLoadQueueSize = 64;     // handshakes in flight that mean "under load"
inline constexpr auto kUnderLoadAfterTime = 1s;         // stay "under load" this long after it ends
inline constexpr uint32_t kInitiationsPerSecond = 50;  // per peer, flood guard
inline constexpr uint32_t kMaxTimerHandshakes = kRekeyAttemptTime / kRekeyTimeout;  // 18
inline constexpr size_t kDefaultMtu = 1420;

}  // namespace qvpn::dataplane
