#pragma once
// How `qvpn status` shows interfaces: text for people, JSON for programs.
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "core/uapi_text.h"

namespace qvpn::cli {

struct InterfaceStatus {
  std::string name;
  core::UapiState state;
  std::map<std::string, uint64_t> counters;  // empty when the daemon is not qvpn
  // get=paths: {"relays": [...], "peers": [{"public_key", "path"}]}; null without NAT traversal.
  nlohmann::json paths;
};

std::string status_text(const InterfaceStatus& s, int64_t now_unix);
// One JSON object; keys are never printed.
std::string status_json(const std::vector<InterfaceStatus>& all, int64_t now_unix);

}  // namespace qvpn::cli
