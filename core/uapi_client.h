#pragma once
// The client side of the UAPI, for `qvpn status` and tests: one request over the Unix
// socket, and the parsing of a get=1 answer.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/uapi_text.h"

namespace qvpn::core {

// Sends request (it must end with a blank line) and returns the answer up to and
// including its blank line. Throws std::system_error when the socket does not answer.
std::string uapi_request(const std::filesystem::path& socket, std::string_view request);

// Parses a get=1 answer; its errno line must be 0. Throws std::runtime_error otherwise.
UapiState parse_uapi_get(std::string_view answer);

// Parses "key=value" lines of an answer (the get=qvpn counters); errno excluded.
std::map<std::string, uint64_t> parse_uapi_counters(std::string_view answer);

// The UAPI sockets in dir, as interface names, sorted.
std::vector<std::string> uapi_interfaces(const std::filesystem::path& dir);

}  // namespace qvpn::core
