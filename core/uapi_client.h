#pragma once
// The client side of the UAPI socket, for `qvpn status`: one request over the Unix socket.
// Answers are parsed by uapi_text.h.
#include <filesystem>
#include <string>
#include <vector>

#include "core/uapi_text.h"

namespace qvpn::core {

// Sends request (it must end with a blank line) and returns the answer up to and
// including its blank line. Throws std::system_error when the socket does not answer.
std::string uapi_request(const std::filesystem::path& socket, std::string_view request);

// The UAPI sockets in dir, as interface names, sorted.
std::vector<std::string> uapi_interfaces(const std::filesystem::path& dir);

}  // namespace qvpn::core
