#include "platform/paths.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace qvpn::platform {
namespace fs = std::filesystem;
namespace {

bool is_root() { return geteuid() == 0; }

// The XDG spec says an empty or relative value is to be ignored as if unset.
std::optional<fs::path> absolute_env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || v[0] != '/') return std::nullopt;
  return fs::path(v);
}

fs::path home_dir() {
  if (auto home = absolute_env("HOME")) return *home;
  // No $HOME (e.g. started by a service manager): ask the password database.
  long size = sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(size > 0 ? static_cast<size_t>(size) : 16384);
  passwd pw{};
  passwd* result = nullptr;
  if (getpwuid_r(geteuid(), &pw, buf.data(), buf.size(), &result) == 0 && result &&
      result->pw_dir && result->pw_dir[0] == '/') {
    return fs::path(result->pw_dir);
  }
  return fs::path("/");
}

}  // namespace

fs::path config_path() {
  if (const char* v = std::getenv("QVPN_CONFIG"); v && v[0] != '\0') return fs::path(v);
  if (is_root()) return "/etc/qvpn/qvpn.toml";
  if (auto xdg = absolute_env("XDG_CONFIG_HOME")) return *xdg / "qvpn" / "qvpn.toml";
  return home_dir() / ".config" / "qvpn" / "qvpn.toml";
}

fs::path state_dir() {
  if (is_root()) return "/var/lib/qvpn";
  if (auto xdg = absolute_env("XDG_STATE_HOME")) return *xdg / "qvpn";
  return home_dir() / ".local" / "state" / "qvpn";
}

fs::path uapi_socket_dir() { return "/var/run/wireguard"; }

fs::path uapi_socket_path(std::string_view ifname) {
  return uapi_socket_dir() / (std::string(ifname) + ".sock");
}

fs::path control_socket_path() {
  if (is_root()) return "/run/qvpn/qvpn.sock";
  if (auto xdg = absolute_env("XDG_RUNTIME_DIR")) return *xdg / "qvpn" / "qvpn.sock";
  return fs::path("/tmp") / ("qvpn-" + std::to_string(geteuid())) / "qvpn.sock";
}

}  // namespace qvpn::platform
