#include "cli/commands.h"

#include <fmt/core.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/output.h"
#include "core/config.h"
#include "core/node_runner.h"
#include "core/uapi_client.h"
#include "dataplane/x25519.h"
#include "platform/netlink.h"
#include "platform/paths.h"
#include "platform/secure_file.h"

namespace qvpn::cli {
namespace fs = std::filesystem;

namespace {

fs::path run_dir() { return platform::control_socket_path().parent_path(); }

// The JSON of a "json=..." answer (get=paths, ping=).
nlohmann::json uapi_json(const std::string& answer) {
  if (!answer.starts_with("json=")) throw std::runtime_error("no JSON in the answer");
  return nlohmann::json::parse(answer.substr(5, answer.find('\n') - 5));
}

int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// First run: a fresh key (0600) beside a commented default config.
void create_default_config(const fs::path& config) {
  const fs::path key_file = config.parent_path() / "private.key";
  dataplane::SecretKey key;
  if (fs::exists(key_file)) {
    std::string text = platform::read_secret_file(key_file);
    auto parsed = dataplane::key_from_base64(std::string_view(text).substr(0, 44));
    dataplane::secure_wipe(text.data(), text.size());
    if (!parsed) throw std::runtime_error(key_file.string() + ": not a base64 key");
    key = dataplane::SecretKey(*parsed);
    dataplane::secure_wipe(parsed->data(), parsed->size());
  } else {
    key = dataplane::generate_private_key();
    std::string text = dataplane::to_base64(key.span()) + "\n";
    platform::write_file_atomic(key_file, text, 0600);
    dataplane::secure_wipe(text.data(), text.size());
  }
  platform::write_file_atomic(config, core::default_config_toml(key_file.filename()), 0644);
  const std::string pub = dataplane::to_base64(dataplane::public_key_of(key).bytes);
  fmt::print(
      "qvpn: created {} and a new private key in {} (mode 0600)\n"
      "qvpn: this node's public key: {}\n\n"
      "To add a peer, append to {}:\n\n"
      "  [[peer]]\n"
      "  public_key = \"<the peer's public key>\"\n"
      "  endpoint = \"<host>:51820\"\n"
      "  allowed_ips = [\"10.0.0.2/32\"]\n\n"
      "and give this node an address under [interface], e.g. address = [\"10.0.0.1/24\"];\n"
      "the peer adds this node's public key the same way. Then restart `qvpn up`.\n\n",
      config.string(), key_file.string(), pub, config.string());
}

}  // namespace

int cmd_genkey(const Args& args) {
  if (!args.empty()) {
    fmt::print(stderr, "Usage: qvpn genkey\n");
    return 2;
  }
  struct stat st{};
  if (::fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0077)) {
    fmt::print(stderr, "Warning: writing to world accessible file.\n"
                       "Consider setting the umask to 077 and trying again.\n");
  }
  dataplane::SecretKey key = dataplane::generate_private_key();
  fmt::print("{}\n", dataplane::to_base64(key.span()));
  return 0;
}

int cmd_pubkey(const Args& args) {
  if (!args.empty()) {
    fmt::print(stderr, "Usage: qvpn pubkey < private.key\n");
    return 2;
  }
  std::string line;
  std::getline(std::cin, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  auto key = dataplane::key_from_base64(line);
  dataplane::secure_wipe(line.data(), line.size());
  if (!key) {
    fmt::print(stderr, "qvpn: a key is 44 base64 characters (as `qvpn genkey` prints)\n");
    return 1;
  }
  dataplane::SecretKey secret(*key);
  dataplane::secure_wipe(key->data(), key->size());
  fmt::print("{}\n", dataplane::to_base64(dataplane::public_key_of(secret).bytes));
  return 0;
}

int cmd_up(const Args& args) {
  fs::path config_file;
  for (size_t i = 0; i < args.size(); ++i) {
    if ((args[i] == "-c" || args[i] == "--config") && i + 1 < args.size()) {
      config_file = args[++i];
    } else {
      fmt::print(stderr, "Usage: qvpn up [-c FILE]\n");
      return 2;
    }
  }
  if (config_file.empty()) config_file = platform::config_path();

  core::NodeRunOptions options;
  try {
    if (!fs::exists(config_file)) create_default_config(config_file);
    options.config = core::load_config(config_file);
  } catch (const std::exception& e) {
    fmt::print(stderr, "qvpn: {}\n", e.what());
    return 1;
  }
  for (const auto& w : options.config->warnings) fmt::print(stderr, "qvpn: warning: {}\n", w);

  options.ifname = options.config->interface.name;
  const std::string pub =
      dataplane::to_base64(dataplane::public_key_of(options.config->interface.private_key).bytes);
  fs::path pid_file;
  options.on_ready = [&](const std::string& name, uint16_t port) {
    fmt::print("qvpn: {} is up, UDP port {}, public key {}, {} peer(s)\n", name, port, pub,
               options.config->peers.size());
    std::fflush(stdout);
    pid_file = run_dir() / (name + ".pid");
    try {
      platform::write_file_atomic(pid_file, std::to_string(::getpid()) + "\n", 0644);
    } catch (const std::exception& e) {
      fmt::print(stderr, "qvpn: warning: {}\n", e.what());
    }
  };
  const int rc = core::run_node(options);
  if (!pid_file.empty()) {
    std::error_code ec;
    fs::remove(pid_file, ec);
  }
  return rc;
}

int cmd_down(const Args& args) {
  if (args.size() > 1) {
    fmt::print(stderr, "Usage: qvpn down [IFACE]\n");
    return 2;
  }
  std::string ifname = args.empty() ? "" : std::string(args[0]);
  if (ifname.empty()) {
    std::vector<std::string> running;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(run_dir(), ec)) {
      if (e.path().extension() == ".pid") running.push_back(e.path().stem().string());
    }
    if (running.size() != 1) {
      fmt::print(stderr, "qvpn: {} nodes are running; say which: qvpn down IFACE\n",
                 running.size());
      return 1;
    }
    ifname = running[0];
  }
  const fs::path pid_file = run_dir() / (ifname + ".pid");
  std::ifstream in(pid_file);
  pid_t pid = 0;
  if (in >> pid && pid > 0 && ::kill(pid, SIGTERM) == 0) {
    for (int i = 0; i < 100 && ::kill(pid, 0) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (::kill(pid, 0) == 0) {
      fmt::print(stderr, "qvpn: {} (pid {}) did not stop\n", ifname, pid);
      return 1;
    }
    return 0;
  }
  // Not started by `qvpn up` (e.g. qvpn-wg): deleting the link stops the daemon, as
  // wg-quick down does.
  try {
    platform::delete_link(ifname);
  } catch (const std::exception& e) {
    fmt::print(stderr, "qvpn: {}: no such node ({})\n", ifname, e.what());
    return 1;
  }
  return 0;
}

int cmd_status(const Args& args) {
  bool json = false;
  std::vector<std::string> names;
  for (auto a : args) {
    if (a == "--json") {
      json = true;
    } else if (!a.starts_with('-')) {
      names.emplace_back(a);
    } else {
      fmt::print(stderr, "Usage: qvpn status [IFACE] [--json]\n");
      return 2;
    }
  }
  const fs::path dir = platform::uapi_socket_dir();
  if (names.empty()) names = core::uapi_interfaces(dir);
  std::vector<InterfaceStatus> all;
  int rc = 0;
  for (const auto& name : names) {
    const fs::path sock = platform::uapi_socket_path(name);
    try {
      InterfaceStatus s{name, core::parse_uapi_get(core::uapi_request(sock, "get=1\n\n")), {}, {}};
      try {
        s.counters = core::parse_uapi_counters(core::uapi_request(sock, "get=qvpn\n\n"));
        const auto paths = uapi_json(core::uapi_request(sock, "get=paths\n\n"));
        if (!paths["relays"].empty()) s.paths = paths;
      } catch (const std::exception&) {
        // Not a qvpn daemon (wireguard-go): no counters.
      }
      all.push_back(std::move(s));
    } catch (const std::exception& e) {
      fmt::print(stderr, "qvpn: {}: {}\n", name, e.what());
      rc = 1;
    }
  }
  if (json) {
    fmt::print("{}", status_json(all, now_unix()));
  } else {
    for (size_t i = 0; i < all.size(); ++i) {
      fmt::print("{}{}", i ? "\n" : "", status_text(all[i], now_unix()));
    }
    if (all.empty() && rc == 0) fmt::print("no interfaces\n");
  }
  return rc;
}

}  // namespace qvpn::cli
