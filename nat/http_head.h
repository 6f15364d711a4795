#pragma once
// The head of an HTTP/1.1 request or response, as the relay needs it to enter its protocol
// through an Upgrade (and to answer /healthz). Parsing only, bounded, no I/O.
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qvpn::nat {

inline constexpr size_t kMaxHttpHead = 8192;
inline constexpr size_t kMaxHttpHeaders = 64;

struct HttpHead {
  // A request: method, target and version; a response: version, status code and reason.
  std::string first, second, third;
  std::vector<std::pair<std::string, std::string>> headers;

  // The first header of that name, compared case-insensitively.
  std::optional<std::string_view> header(std::string_view name) const;
  // Whether a comma-separated header (Connection, Upgrade) lists `token`, case-insensitively.
  bool header_has_token(std::string_view name, std::string_view token) const;
};

// The length of the head including its blank line, once "\r\n\r\n" is in `bytes`; nullopt
// while more is needed.
std::optional<size_t> http_head_length(std::string_view bytes);
// Parses a complete head (request when `request`, else response); nullopt when malformed.
std::optional<HttpHead> parse_http_head(std::string_view head, bool request);

}  // namespace qvpn::nat
