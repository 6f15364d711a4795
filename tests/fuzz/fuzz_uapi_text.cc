// libFuzzer target for the UAPI text parser: arbitrary bytes as the body of a set operation.
// Beyond not crashing, whatever parses must survive a round trip: format it as a get answer,
// keep the lines a set accepts, parse again, and get the same device back.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "core/uapi_text.h"

using namespace qvpn;
using namespace qvpn::core;

namespace {

// The get lines that are counters, not settings; a set rejects them.
bool is_counter_line(std::string_view line) {
  return line.starts_with("last_handshake_time_") || line.starts_with("tx_bytes=") ||
         line.starts_with("rx_bytes=") || line.starts_with("errno=");
}

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto result = parse_uapi_set(body);
  if (const auto* error = std::get_if<UapiError>(&result)) {
    check(error->errno_value == kUapiErrorInvalid || error->errno_value == kUapiErrorProtocol);
    return 0;
  }
  const UapiSet& set = std::get<UapiSet>(result);

  UapiState state;
  state.private_key = set.private_key;
  state.listen_port = set.listen_port.value_or(0);
  state.fwmark = set.fwmark.value_or(0);
  for (const UapiPeerSet& p : set.peers) {
    UapiPeerState s;
    s.public_key = p.public_key;
    s.preshared_key = p.preshared_key;
    s.endpoint = p.endpoint;
    s.persistent_keepalive = p.persistent_keepalive.value_or(0);
    s.allowed_ips = p.allowed_ips;
    state.peers.push_back(s);
  }
  const std::string text = format_uapi_get(state);
  check(text.ends_with("errno=0\n\n"));

  std::string again;
  std::string_view rest = text;
  while (!rest.empty()) {
    const size_t eol = rest.find('\n');
    const std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol + 1);
    if (!line.empty() && !is_counter_line(line)) {
      again += line;
      again += '\n';
    }
  }
  auto reparsed = parse_uapi_set(again);
  check(std::holds_alternative<UapiSet>(reparsed));
  const UapiSet& set2 = std::get<UapiSet>(reparsed);
  check(set2.peers.size() == set.peers.size());
  for (size_t i = 0; i < set.peers.size(); ++i) {
    check(set2.peers[i].public_key == set.peers[i].public_key);
    check(set2.peers[i].allowed_ips == set.peers[i].allowed_ips);
    check(set2.peers[i].endpoint == set.peers[i].endpoint);
  }
  return 0;
}
