#include "nat/stun.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>

#include <string_view>

namespace qvpn::nat {

namespace {

constexpr uint16_t kBindingRequest = 0x0001;
constexpr uint16_t kBindingSuccess = 0x0101;
constexpr uint16_t kBindingError = 0x0111;

constexpr uint16_t kMappedAddress = 0x0001;
constexpr uint16_t kChangeRequest = 0x0003;
constexpr uint16_t kErrorCode = 0x0009;
constexpr uint16_t kUnknownAttributes = 0x000A;
constexpr uint16_t kXorMappedAddress = 0x0020;
constexpr uint16_t kSoftware = 0x8022;
constexpr uint16_t kFingerprint = 0x8028;
constexpr uint32_t kFingerprintXor = 0x5354554e;

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
void put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}
void put32(std::vector<uint8_t>& out, uint32_t v) {
  put16(out, static_cast<uint16_t>(v >> 16));
  put16(out, static_cast<uint16_t>(v));
}

// CRC-32 (ISO HDLC), as FINGERPRINT uses; messages are small, so bitwise is fast enough.
uint32_t crc32(std::span<const uint8_t> bytes) {
  uint32_t crc = 0xffffffff;
  for (uint8_t b : bytes) {
    crc ^= b;
    for (int i = 0; i < 8; ++i) crc = (crc >> 1) ^ (0xedb88320 & (0 - (crc & 1)));
  }
  return ~crc;
}

std::vector<uint8_t> header(uint16_t type, const StunTxId& txid) {
  std::vector<uint8_t> out;
  out.reserve(96);
  put16(out, type);
  put16(out, 0);  // length, set as attributes are added
  put32(out, kStunMagicCookie);
  out.insert(out.end(), txid.begin(), txid.end());
  return out;
}

void set_length(std::vector<uint8_t>& msg) {
  const size_t n = msg.size() - kStunHeaderSize;
  msg[2] = static_cast<uint8_t>(n >> 8);
  msg[3] = static_cast<uint8_t>(n);
}

void add_attribute(std::vector<uint8_t>& msg, uint16_t type, std::span<const uint8_t> value) {
  put16(msg, type);
  put16(msg, static_cast<uint16_t>(value.size()));
  msg.insert(msg.end(), value.begin(), value.end());
  msg.resize((msg.size() + 3) & ~size_t{3}, 0);
  set_length(msg);
}

// Last attribute: the CRC covers the message with its length already counting the
// FINGERPRINT itself.
void add_fingerprint(std::vector<uint8_t>& msg) {
  const size_t at = msg.size();
  put16(msg, kFingerprint);
  put16(msg, 4);
  put32(msg, 0);
  set_length(msg);
  const uint32_t fp = crc32({msg.data(), at}) ^ kFingerprintXor;
  msg[at + 4] = static_cast<uint8_t>(fp >> 24);
  msg[at + 5] = static_cast<uint8_t>(fp >> 16);
  msg[at + 6] = static_cast<uint8_t>(fp >> 8);
  msg[at + 7] = static_cast<uint8_t>(fp);
}

// family, port and address, XORed with the cookie and transaction id when `xored`.
std::vector<uint8_t> address_value(const platform::Endpoint& ep, const uint8_t* msg_header,
                                   bool xored) {
  std::vector<uint8_t> v{0, static_cast<uint8_t>(ep.ip.v6 ? 2 : 1)};
  put16(v, xored ? static_cast<uint16_t>(ep.port ^ (kStunMagicCookie >> 16)) : ep.port);
  for (size_t i = 0; i < ep.ip.size(); ++i) {
    // Bytes 4..19 of the header are the cookie then the transaction id.
    v.push_back(static_cast<uint8_t>(ep.ip.bytes[i] ^ (xored ? msg_header[4 + i] : 0)));
  }
  return v;
}

std::optional<platform::Endpoint> parse_address(std::span<const uint8_t> v,
                                                const uint8_t* msg_header, bool xored) {
  if (v.size() < 4) return std::nullopt;
  platform::Endpoint ep;
  if (v[1] == 1 && v.size() == 8) {
    ep.ip.v6 = false;
  } else if (v[1] == 2 && v.size() == 20) {
    ep.ip.v6 = true;
  } else {
    return std::nullopt;
  }
  ep.port = be16(&v[2]);
  if (xored) ep.port ^= static_cast<uint16_t>(kStunMagicCookie >> 16);
  for (size_t i = 0; i < ep.ip.size(); ++i) {
    ep.ip.bytes[i] = static_cast<uint8_t>(v[4 + i] ^ (xored ? msg_header[4 + i] : 0));
  }
  return ep;
}

struct Attribute {
  uint16_t type;
  std::span<const uint8_t> value;
};

// Every attribute up to the end, or nullopt when one runs past it or a FINGERPRINT is
// wrong or not last.
std::optional<std::vector<Attribute>> attributes(std::span<const uint8_t> msg) {
  std::vector<Attribute> out;
  size_t pos = kStunHeaderSize;
  while (pos < msg.size()) {
    if (msg.size() - pos < 4) return std::nullopt;
    const uint16_t type = be16(&msg[pos]);
    const size_t len = be16(&msg[pos + 2]);
    const size_t padded = (len + 3) & ~size_t{3};
    if (msg.size() - pos - 4 < padded) return std::nullopt;
    const auto value = msg.subspan(pos + 4, len);
    if (type == kFingerprint) {
      if (len != 4 || pos + 8 != msg.size()) return std::nullopt;
      if (be32(value.data()) != (crc32(msg.first(pos)) ^ kFingerprintXor)) return std::nullopt;
    }
    out.push_back({type, value});
    pos += 4 + padded;
  }
  return out;
}

}  // namespace

StunTxId new_stun_txid() {
  StunTxId id;
  randombytes_buf(id.data(), id.size());
  return id;
}

bool is_stun(std::span<const uint8_t> bytes) {
  if (bytes.size() < kStunHeaderSize || (bytes[0] & 0xc0) != 0) return false;
  const size_t length = be16(&bytes[2]);
  return be32(&bytes[4]) == kStunMagicCookie && length % 4 == 0 &&
         length == bytes.size() - kStunHeaderSize;
}

std::vector<uint8_t> stun_binding_request(const StunTxId& txid) {
  std::vector<uint8_t> msg = header(kBindingRequest, txid);
  add_fingerprint(msg);
  return msg;
}

std::optional<StunBindingResponse> parse_stun_binding_response(std::span<const uint8_t> bytes) {
  if (!is_stun(bytes) || be16(bytes.data()) != kBindingSuccess) return std::nullopt;
  const auto attrs = attributes(bytes);
  if (!attrs) return std::nullopt;
  std::optional<platform::Endpoint> xored, plain;
  for (const auto& a : *attrs) {
    if (a.type == kXorMappedAddress && !xored) xored = parse_address(a.value, bytes.data(), true);
    if (a.type == kMappedAddress && !plain) plain = parse_address(a.value, bytes.data(), false);
  }
  if (!xored && !plain) return std::nullopt;
  StunBindingResponse r;
  std::copy(bytes.begin() + 8, bytes.begin() + 20, r.txid.begin());
  r.mapped = xored ? *xored : *plain;
  return r;
}

StunReply stun_server_reply(std::span<const uint8_t> request, const platform::Endpoint& observed) {
  if (!is_stun(request)) return {StunVerdict::kNotStun, {}};
  if (be16(request.data()) != kBindingRequest) return {StunVerdict::kNotBindingRequest, {}};
  const auto attrs = attributes(request);
  if (!attrs) return {StunVerdict::kMalformed, {}};
  StunTxId txid;
  std::copy(request.begin() + 8, request.begin() + 20, txid.begin());

  std::vector<uint8_t> unknown;
  for (const auto& a : *attrs) {
    // 0x0000-0x7FFF must be understood; of those we know only the ones a Binding may carry.
    const bool required = a.type < 0x8000;
    const bool known = a.type == kChangeRequest || a.type == kMappedAddress ||
                       a.type == kXorMappedAddress;
    if (required && !known && unknown.size() < 32) put16(unknown, a.type);
  }
  if (!unknown.empty()) {
    std::vector<uint8_t> msg = header(kBindingError, txid);
    const std::string_view text = "Unknown Attribute";
    std::vector<uint8_t> error{0, 0, 4, 20};
    error.insert(error.end(), text.begin(), text.end());
    add_attribute(msg, kErrorCode, error);
    add_attribute(msg, kUnknownAttributes, unknown);
    add_fingerprint(msg);
    return {StunVerdict::kUnknownAttribute, std::move(msg)};
  }
  std::vector<uint8_t> msg = header(kBindingSuccess, txid);
  add_attribute(msg, kXorMappedAddress, address_value(observed, msg.data(), true));
  add_attribute(msg, kMappedAddress, address_value(observed, msg.data(), false));
  const std::string_view software = "qvpn";
  add_attribute(msg, kSoftware, {reinterpret_cast<const uint8_t*>(software.data()), software.size()});
  add_fingerprint(msg);
  return {StunVerdict::kAnswered, std::move(msg)};
}

}  // namespace qvpn::nat
