#pragma once
// The Internet checksum (RFC 1071): the one's-complement sum of big-endian 16-bit words.
//
// A "sum" here is an unfolded accumulator: start from 0 or a pseudo-header sum, add pieces with
// checksum_add/checksum_copy, then fold. Each piece is summed as if it started on a word
// boundary, so every piece but the last must have an even length. Each call adds less than
// 2^17 to the accumulator, so any realistic chain of calls cannot overflow it.
#include <cstddef>
#include <cstdint>
#include <span>

namespace qvpn::dataplane {

// sum + the one's-complement sum of `data` (an odd final byte is padded with zero).
// Reads 8 bytes per step; data.size() must be below 16 GiB.
uint64_t checksum_add(std::span<const uint8_t> data, uint64_t sum = 0);

// checksum_add(src, sum) while copying src to dst, in one pass. dst holds src.size() bytes and
// does not overlap src.
uint64_t checksum_copy(uint8_t* dst, std::span<const uint8_t> src, uint64_t sum = 0);

// The sum folded to 16 bits with end-around carries. Not 0 unless sum is 0.
constexpr uint16_t checksum_fold(uint64_t sum) {
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// The value stored in a checksum field: the complement of the folded sum. A packet verifies
// when the sum over it (field included, plus its pseudo-header) folds to 0xffff.
constexpr uint16_t checksum_finish(uint64_t sum) {
  return static_cast<uint16_t>(~checksum_fold(sum));
}

// Sum of the TCP/UDP pseudo-header (RFC 793/768): the source and destination addresses as they
// lie in the IPv4 header (bytes 12..19), the protocol and the L4 length (header + payload).
uint64_t pseudo_header_sum_ipv4(std::span<const uint8_t, 8> src_dst, uint8_t protocol,
                                uint32_t l4_length);

// The same for IPv6 (RFC 8200 8.1): addresses as in the IPv6 header (bytes 8..39).
uint64_t pseudo_header_sum_ipv6(std::span<const uint8_t, 32> src_dst, uint8_t protocol,
                                uint32_t l4_length);

}  // namespace qvpn::dataplane
