#pragma once
// The `qvpn` subcommands. Each takes the arguments after its name and returns the exit
// code: 0 success, 1 failure, 2 bad usage.
#include <string_view>
#include <vector>

namespace qvpn::cli {

using Args = std::vector<std::string_view>;

int cmd_genkey(const Args& args);
int cmd_pubkey(const Args& args);
int cmd_up(const Args& args);
int cmd_down(const Args& args);
int cmd_status(const Args& args);

}  // namespace qvpn::cli
