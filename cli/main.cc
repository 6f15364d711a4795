#include <fmt/core.h>

#include <string_view>

#include "cli/commands.h"
#include "cli/nat_commands.h"
#include "cli/relay_command.h"

namespace {

constexpr std::string_view kUsage = R"(Usage: qvpn COMMAND [ARGS]

  up [-c FILE]           run a node from FILE (TOML or wg-quick .conf); without -c the
                         default config, created with a fresh key on first run
  down [IFACE]           stop the node running IFACE
  status [IFACE] [--json]
                         interfaces, peers, endpoints, handshakes and traffic
  ping PEER [-c N] [--json]
                         disco ping a peer through its running node: round trip and path
  netcheck [-c FILE] [--json]
                         UDP, STUN mappings, hard or easy NAT, port-mapping protocols
                         and relay round trips
  genkey                 print a new private key (base64), as `wg genkey`
  pubkey                 read a private key on stdin, print its public key, as `wg pubkey`
  relay serve [--listen ADDR:PORT] [--stun-port N] [--tls-cert FILE --tls-key FILE]
              [--key-file FILE] [--max-clients N] [--rate BYTES_PER_S] [--queue BYTES]
                         run a relay for nodes that cannot reach each other directly,
                         and a STUN server (docs/protocol/relay.md)

qvpn-wg IFACE is the drop-in for wireguard-go, driven by wg(8) and wg-quick(8).
)";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "{}", kUsage);
    return 2;
  }
  const std::string_view cmd = argv[1];
  const qvpn::cli::Args args(argv + 2, argv + argc);
  if (cmd == "up") return qvpn::cli::cmd_up(args);
  if (cmd == "down") return qvpn::cli::cmd_down(args);
  if (cmd == "status") return qvpn::cli::cmd_status(args);
  if (cmd == "genkey") return qvpn::cli::cmd_genkey(args);
  if (cmd == "pubkey") return qvpn::cli::cmd_pubkey(args);
  if (cmd == "relay") return qvpn::cli::cmd_relay(args);
  if (cmd == "ping") return qvpn::cli::cmd_ping(args);
  if (cmd == "netcheck") return qvpn::cli::cmd_netcheck(args);
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    fmt::print("{}", kUsage);
    return 0;
  }
  fmt::print(stderr, "qvpn: unknown command '{}'\n\n{}", cmd, kUsage);
  return 2;
}
