// Fuzzes STUN on both sides: is_stun, the client's response parser and the server's reply
// on arbitrary bytes. Invariants: whatever the server answers is a well-formed STUN message
// for the same transaction; a success it sends parses back to the observed endpoint; the
// client parser accepts only messages is_stun accepts.
//
// Input: one byte choosing the observed endpoint's family, then the message.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "nat/stun.h"

using namespace qvpn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  platform::Endpoint observed;
  observed.ip.v6 = data[0] & 1;
  for (size_t i = 0; i < observed.ip.size(); ++i) observed.ip.bytes[i] = uint8_t(data[0] * 31 + i);
  observed.port = uint16_t(data[0] * 257);
  const std::span<const uint8_t> msg(data + 1, size - 1);

  const bool stun = nat::is_stun(msg);
  if (const auto r = nat::parse_stun_binding_response(msg); r && !stun) abort();
  const auto reply = nat::stun_server_reply(msg, observed);
  if (!reply.bytes.empty()) {
    if (!stun || !nat::is_stun(reply.bytes)) abort();
    if (std::memcmp(reply.bytes.data() + 8, msg.data() + 8, 12) != 0) abort();  // same txid
    if (reply.verdict == nat::StunVerdict::kAnswered) {
      const auto back = nat::parse_stun_binding_response(reply.bytes);
      if (!back || back->mapped != observed) abort();
    }
  }
  return 0;
}
