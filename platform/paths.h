#pragma once
// Where qvpn keeps its files on Linux. Root (the system service) uses the FHS locations;
// any other user gets per-user XDG locations, so `qvpn` works unprivileged for testing.
#include <filesystem>
#include <string_view>

namespace qvpn::platform {

// $QVPN_CONFIG if set; for root /etc/qvpn/qvpn.toml; otherwise
// $XDG_CONFIG_HOME/qvpn/qvpn.toml, falling back to ~/.config/qvpn/qvpn.toml.
std::filesystem::path config_path();

// For root /var/lib/qvpn; otherwise $XDG_STATE_HOME/qvpn, falling back to
// ~/.local/state/qvpn.
std::filesystem::path state_dir();

// /var/run/wireguard, where wg(8) looks for userspace implementations' UAPI sockets.
std::filesystem::path uapi_socket_dir();
// uapi_socket_dir()/<ifname>.sock
std::filesystem::path uapi_socket_path(std::string_view ifname);

// The daemon API socket: for root /run/qvpn/qvpn.sock; otherwise
// $XDG_RUNTIME_DIR/qvpn/qvpn.sock, falling back to /tmp/qvpn-<uid>/qvpn.sock.
std::filesystem::path control_socket_path();

}  // namespace qvpn::platform
