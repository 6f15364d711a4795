#include "nat/http_head.h"

#include <algorithm>
#include <cctype>

namespace qvpn::nat {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

}  // namespace

std::optional<std::string_view> HttpHead::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return v;
  }
  return std::nullopt;
}

bool HttpHead::header_has_token(std::string_view name, std::string_view token) const {
  for (const auto& [n, v] : headers) {
    if (!iequals(n, name)) continue;
    std::string_view rest = v;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      if (iequals(trim(rest.substr(0, comma)), token)) return true;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return false;
}

std::optional<size_t> http_head_length(std::string_view bytes) {
  const size_t end = bytes.find("\r\n\r\n");
  if (end == std::string_view::npos) return std::nullopt;
  return end + 4;
}

std::optional<HttpHead> parse_http_head(std::string_view head, bool request) {
  if (head.size() > kMaxHttpHead || !head.ends_with("\r\n\r\n")) return std::nullopt;
  head.remove_suffix(2);  // the blank line; every line now ends in CRLF
  HttpHead h;
  const size_t eol = head.find("\r\n");
  const std::string_view start = head.substr(0, eol);
  head.remove_prefix(eol + 2);
  const size_t sp1 = start.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : start.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return std::nullopt;
  h.first = start.substr(0, sp1);
  h.second = start.substr(sp1 + 1, sp2 - sp1 - 1);
  h.third = start.substr(sp2 + 1);
  const std::string& version = request ? h.third : h.first;
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return std::nullopt;
  const std::string& word = request ? h.first : h.second;
  if (word.empty() || !std::all_of(word.begin(), word.end(), is_token_char)) return std::nullopt;
  if (request ? h.second.empty()
              : h.second.size() != 3 || !std::all_of(h.second.begin(), h.second.end(),
                                                     [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  while (!head.empty()) {
    const size_t line_end = head.find("\r\n");
    const std::string_view line = head.substr(0, line_end);
    head.remove_prefix(line_end + 2);
    const size_t colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos) return std::nullopt;
    const std::string_view name = line.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), is_token_char)) return std::nullopt;
    if (h.headers.size() == kMaxHttpHeaders) return std::nullopt;
    h.headers.emplace_back(name, trim(line.substr(colon + 1)));
  }
  return h;
}

}  // namespace qvpn::nat
