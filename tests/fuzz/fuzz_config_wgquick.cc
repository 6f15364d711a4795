// libFuzzer target for the wg-quick .conf parser: arbitrary bytes as a config file, read
// from memory (no file is opened). A bad config must end in ConfigError, never a crash or
// another exception; a good one must satisfy what the loader promises.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string_view>

#include "core/config.h"

using namespace qvpn::core;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Config config;
  try {
    config = parse_wg_quick(text, "/etc/wireguard/wg0.conf");
  } catch (const ConfigError& e) {
    check(e.file() == "/etc/wireguard/wg0.conf");
    check(e.line() >= 0);
    return 0;
  }
  check(config.interface.name == "wg0");
  check(!config.interface.private_key.is_zero());
  check(config.interface.mtu >= kMinMtu && config.interface.mtu <= kMaxMtu);
  std::set<qvpn::dataplane::KeyBytes> keys;
  for (const PeerConfig& peer : config.peers) {
    check(keys.insert(peer.public_key.bytes).second);
    if (peer.endpoint) check(!peer.endpoint->empty());
  }
  return 0;
}
