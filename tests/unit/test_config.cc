// The config model and both file formats: happy paths, and for every kind of mistake an error
// that names the file, the line and the key. Files live in a fresh temporary directory.
#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "support/keys.h"

using namespace qvpn;
using namespace qvpn::core;
using namespace qvpn::test;
namespace fs = std::filesystem;

namespace {

std::string b64(uint8_t fill) { return dataplane::to_base64(key_bytes(fill)); }

// A temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "qvpn-config-test-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path write(const std::string& name, const std::string& text, mode_t mode = 0600) const {
    const fs::path p = path_ / name;
    std::ofstream(p) << text;
    REQUIRE(chmod(p.c_str(), mode) == 0);
    return p;
  }

 private:
  fs::path path_;
};

// Parses TOML from memory with key files served from a fixed text.
ConfigParseOptions fake_key_files(const std::string& key_text) {
  ConfigParseOptions o;
  o.read_key_file = [key_text](const fs::path&) { return key_text; };
  return o;
}

// Runs `f`, which must throw ConfigError, and returns the error.
template <typename F>
ConfigError config_error(F&& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e;
  }
  FAIL("no ConfigError thrown");
  return ConfigError("", 0, "", "");
}

std::string contains_msg(const std::string& what, const std::string& part) {
  return what.find(part) != std::string::npos ? "ok" : "'" + part + "' not in: " + what;
}
#define CHECK_CONTAINS(what, part) CHECK(contains_msg((what), (part)) == "ok")

// What a ConfigError must say; what is unset is not checked.
struct ExpectedError {
  std::optional<int> line;
  std::optional<std::string> key;
  std::vector<std::string> message_parts = {};
};

void check_error(const ConfigError& e, const ExpectedError& expected) {
  if (expected.line) {
    CHECK(e.line() == *expected.line);
  }
  if (expected.key) {
    CHECK(e.key() == *expected.key);
  }
  for (const std::string& part : expected.message_parts) CHECK_CONTAINS(e.what(), part);
}

// A config text that must not parse, and the error it must give.
struct ErrorCase {
  const char* what;
  std::string text;
  ExpectedError expected;
};

const std::string kMinimalToml = "[interface]\nprivate_key = \"" + b64(1) + "\"\n";

}  // namespace

TEST_CASE("TOML: a full config with several peers") {
  TempDir dir;
  dir.write("node.key", b64(1) + "\n");
  dir.write("peer2.psk", b64(9) + "\n");
  const std::string text =
      "# comment\n"
      "[interface]\n"
      "name = \"qvpn7\"\n"
      "private_key_file = \"node.key\"\n"
      "listen_port = 51821\n"
      "address = [\"10.0.0.1/24\", \"fd00::1/64\"]\n"
      "mtu = 1380\n"
      "fwmark = 51820\n"
      "offload = false\n"
      "threads = 3\n"
      "\n"
      "[[peer]]\n"
      "public_key = \"" +
      b64(2) +
      "\"\n"
      "endpoint = \"vpn.example.com:51820\"\n"
      "allowed_ips = [\"10.0.0.2/32\", \"192.168.7.0/24\"]\n"
      "persistent_keepalive = 25\n"
      "preshared_key_file = \"peer2.psk\"\n"
      "\n"
      "[[peer]]\n"
      "public_key = \"" +
      b64(3) +
      "\"\n"
      "endpoint = \"[::1]:51820\"\n"
      "allowed_ips = [\"fd00::3/128\"]\n";
  const fs::path file = dir.write("qvpn.toml", text);

  const Config c = load_config(file);
  CHECK(c.interface.name == "qvpn7");
  CHECK(secret_is(c.interface.private_key, 1));
  CHECK(c.interface.private_key_file == dir.path() / "node.key");
  CHECK(c.interface.listen_port == std::optional<uint16_t>(51821));
  REQUIRE(c.interface.addresses.size() == 2);
  CHECK(c.interface.addresses[0].to_string() == "10.0.0.1/24");  // host part kept
  CHECK(dataplane::IpPrefix::of(c.interface.addresses[0].ip, c.interface.addresses[0].prefix_len).to_string() == "10.0.0.0/24");
  CHECK(c.interface.addresses[1].to_string() == "fd00::1/64");
  CHECK(c.interface.mtu == 1380);
  CHECK(c.interface.fwmark == 51820);
  CHECK(!c.interface.offload);
  CHECK(c.interface.threads == 3);
  CHECK(c.warnings.empty());

  REQUIRE(c.peers.size() == 2);
  CHECK(c.peers[0].public_key == pub(2));
  CHECK(c.peers[0].endpoint == std::optional<std::string>("vpn.example.com:51820"));
  REQUIRE(c.peers[0].allowed_ips.size() == 2);
  CHECK(c.peers[0].allowed_ips[0].to_string() == "10.0.0.2/32");
  CHECK(c.peers[0].allowed_ips[1].to_string() == "192.168.7.0/24");
  CHECK(c.peers[0].persistent_keepalive == 25);
  REQUIRE(c.peers[0].preshared_key.has_value());
  CHECK(secret_is(*c.peers[0].preshared_key, 9));
  CHECK(c.peers[0].preshared_key_file == dir.path() / "peer2.psk");

  CHECK(c.peers[1].public_key == pub(3));
  CHECK(c.peers[1].endpoint == std::optional<std::string>("[::1]:51820"));
  REQUIRE(c.peers[1].allowed_ips.size() == 1);
  CHECK(c.peers[1].allowed_ips[0].to_string() == "fd00::3/128");
  CHECK(!c.peers[1].preshared_key.has_value());
  CHECK(c.peers[1].persistent_keepalive == 0);
}

TEST_CASE("TOML: relays, the home relay and per-peer paths") {
  const std::string text = kMinimalToml +
                           "[[relay]]\nname = \"eu\"\naddress = \"relay.example.net:8443\"\n"
                           "[[relay]]\nname = \"us\"\naddress = \"198.51.100.7:443\"\n"
                           "stun = [\"198.51.100.7:3478\", \"198.51.100.8:3478\"]\ntls = true\n"
                           "[nat]\nhome_relay = \"us\"\nport_mapping = false\n"
                           "[[peer]]\npublic_key = \"" + b64(2) + "\"\npath = \"direct\"\n"
                           "[[peer]]\npublic_key = \"" + b64(3) + "\"\npath = \"relay\"\nrelay = \"eu\"\n"
                           "[[peer]]\npublic_key = \"" + b64(4) + "\"\n";
  const Config c = parse_toml(text, "/etc/qvpn/qvpn.toml");
  REQUIRE(c.nat.enabled());
  REQUIRE(c.nat.relays.size() == 2);
  CHECK(c.nat.relays[0].address == "relay.example.net:8443");
  // Without a stun list, the relay's own host answers STUN on 3478.
  CHECK(c.nat.relays[0].stun == std::vector<std::string>{"relay.example.net:3478"});
  CHECK(!c.nat.relays[0].tls);
  CHECK(c.nat.relays[1].stun == std::vector<std::string>{"198.51.100.7:3478", "198.51.100.8:3478"});
  CHECK(c.nat.relays[1].tls);
  CHECK(c.nat.home().name == "us");
  CHECK(!c.nat.port_mapping);
  CHECK(c.peers[0].path == PathPolicy::kDirect);
  CHECK(c.peers[1].path == PathPolicy::kRelay);
  CHECK(c.peers[1].relay == "eu");
  CHECK(c.peers[2].path == PathPolicy::kAuto);
  CHECK(c.peers[2].relay.empty());

  const Config plain = parse_toml(kMinimalToml, "/etc/qvpn/qvpn.toml");
  CHECK(!plain.nat.enabled());
  CHECK(plain.nat.port_mapping);
}

TEST_CASE("TOML: defaults, and a single string where a list is expected") {
  const Config c = parse_toml(kMinimalToml + "address = \"10.1.0.1/16\"\n", "mem.toml");
  CHECK(c.interface.name.empty());
  CHECK(!c.interface.listen_port.has_value());
  CHECK(c.interface.mtu == kDefaultMtu);
  CHECK(c.interface.fwmark == 0);
  CHECK(c.interface.offload);
  CHECK(c.interface.threads == 0);
  REQUIRE(c.interface.addresses.size() == 1);
  CHECK(c.interface.addresses[0].to_string() == "10.1.0.1/16");
  CHECK(c.peers.empty());
  CHECK(c.interface.private_key_file.empty());
}

TEST_CASE("TOML: a relative key file is found next to the config, not in the working directory") {
  TempDir dir;
  fs::create_directories(dir.path() / "etc" / "keys");
  dir.write("etc/keys/node.key", "  " + b64(5) + "\n\n");  // whitespace around the key is fine
  const fs::path file =
      dir.write("etc/qvpn.toml", "[interface]\nprivate_key_file = \"keys/node.key\"\n");
  const fs::path old_cwd = fs::current_path();
  fs::current_path(dir.path());  // a key looked up from here would be missing
  Config c;
  CHECK_NOTHROW(c = load_config(file));
  fs::current_path(old_cwd);
  CHECK(secret_is(c.interface.private_key, 5));
  CHECK(c.interface.private_key_file == dir.path() / "etc" / "keys" / "node.key");
}

TEST_CASE("TOML: a key file readable by others is refused with the chmod fix") {
  TempDir dir;
  dir.write("node.key", b64(1) + "\n", 0644);
  const fs::path file = dir.write("qvpn.toml", "[interface]\n\nprivate_key_file = \"node.key\"\n");
  const ConfigError e = config_error([&] { load_config(file); });
  CHECK(e.file() == file);
  check_error(e, {3,
                  "private_key_file",
                  {file.string() + ":3: private_key_file: ", (dir.path() / "node.key").string(),
                   "chmod 600"}});
}

TEST_CASE("TOML: a missing key file and a key file without a key name the key file") {
  TempDir dir;
  const fs::path file = dir.write("qvpn.toml", "[interface]\nprivate_key_file = \"none.key\"\n");
  check_error(
      config_error([&] { load_config(file); }),
      {std::nullopt, "private_key_file", {(dir.path() / "none.key").string(), "wg genkey"}});

  dir.write("none.key", "not a key\n");
  check_error(config_error([&] { load_config(file); }),
              {2, std::nullopt, {"does not hold a base64 key"}});
}

TEST_CASE("TOML: an inline private key needs the config itself to be 0600") {
  TempDir dir;
  const fs::path ok = dir.write("ok.toml", kMinimalToml, 0600);
  CHECK(secret_is(load_config(ok).interface.private_key, 1));

  const fs::path open = dir.write("open.toml", kMinimalToml, 0644);
  const ConfigError e = config_error([&] { load_config(open); });
  check_error(e, {2, "private_key", {"chmod 600 " + open.string()}});
  // The key itself never appears in the message.
  CHECK(std::string(e.what()).find(b64(1)) == std::string::npos);

  // Same for an inline preshared key, even when the private key is in a key file.
  dir.write("node.key", b64(1));
  const fs::path psk = dir.write("psk.toml",
                                 "[interface]\nprivate_key_file = \"node.key\"\n[[peer]]\n"
                                 "public_key = \"" +
                                     b64(2) + "\"\npreshared_key = \"" + b64(3) + "\"\n",
                                 0640);
  check_error(config_error([&] { load_config(psk); }), {5, "preshared_key", {"chmod 600"}});
}

TEST_CASE("TOML: errors name file, line and key") {
  const fs::path name = "/etc/qvpn/qvpn.toml";
  const auto parse = [&](const std::string& text) {
    parse_toml(text, name, fake_key_files(b64(1)));
  };
  const std::string peer = "[[peer]]\npublic_key = \"" + b64(2) + "\"\n";

  SUBCASE("bad base64 public key") {
    const auto e =
        config_error([&] { parse(kMinimalToml + "\n[[peer]]\npublic_key = \"abc\"\n"); });
    check_error(e, {5, "public_key"});
    CHECK(std::string(e.what()).starts_with("/etc/qvpn/qvpn.toml:5: public_key: "));
  }
  const ErrorCase cases[] = {
      {"bad base64 private key",
       "[interface]\nprivate_key = \"" + b64(1).substr(1) + "x\"\n",
       {2, "private_key"}},
      {"unknown key in [interface]",
       kMinimalToml + "listen_prot = 1\n",
       {3, "listen_prot", {"unknown key"}}},
      {"offload not a boolean", kMinimalToml + "offload = \"yes\"\n", {3, "offload", {"true or false"}}},
      {"threads out of range", kMinimalToml + "threads = -1\n", {3, "threads", {"out of range"}}},
      {"unknown key in [[peer]]",
       kMinimalToml + peer + "allowed_ip = [\"10.0.0.0/8\"]\n",
       {5, "allowed_ip"}},
      {"unknown table", kMinimalToml + "[peers]\n", {3, "peers"}},
      {"bad CIDR, reported at its own line inside a multi-line array",
       kMinimalToml + peer + "allowed_ips = [\n  \"10.0.0.0/8\",\n  \"10.0.0.0/33\",\n]\n",
       {7, "allowed_ips", {"10.0.0.0/33"}}},
      {"bad address", kMinimalToml + "address = [\"10.0.0.300/24\"]\n", {3, "address"}},
      {"bad port", kMinimalToml + "listen_port = 70000\n", {3, "listen_port", {"0..65535"}}},
      {"port of the wrong type",
       kMinimalToml + "listen_port = \"51820\"\n",
       {std::nullopt, "listen_port", {"expected an integer, got a string"}}},
      {"bad endpoint port", kMinimalToml + peer + "endpoint = \"host:0\"\n", {5, "endpoint"}},
      {"unbracketed IPv6 endpoint",
       kMinimalToml + peer + "endpoint = \"::1:51820\"\n",
       {std::nullopt, std::nullopt, {"brackets"}}},
      // The peers start at lines 3 and 5.
      {"duplicate peer",
       kMinimalToml + peer + peer,
       {5, "public_key", {"duplicate peer", "line 3"}}},
      {"missing private key", "[interface]\nlisten_port = 1\n", {1, "private_key", {"missing"}}},
      {"missing [interface]", peer, {std::nullopt, "interface"}},
      {"missing peer public key",
       kMinimalToml + "\n[[peer]]\nendpoint = \"h:1\"\n",
       {4, "public_key"}},
      {"both private_key and private_key_file",
       kMinimalToml + "private_key_file = \"k\"\n",
       {3, "private_key", {"not both"}}},
      {"[peer] instead of [[peer]]",
       kMinimalToml + "[peer]\npublic_key = \"" + b64(2) + "\"\n",
       {std::nullopt, "peer", {"[[peer]]"}}},
      {"TOML syntax error",
       kMinimalToml + "mtu = = 3\n",
       {3, "", {"/etc/qvpn/qvpn.toml:3: not valid TOML"}}},
      {"MTU too small for IPv6",
       kMinimalToml + "address = [\"fd00::1/64\"]\nmtu = 1200\n",
       {4, "mtu"}},
      {"bad interface name", kMinimalToml + "name = \"a/b\"\n", {std::nullopt, "name"}},
      {"bad path policy", kMinimalToml + peer + "path = \"fast\"\n", {5, "path", {"auto, direct or relay"}}},
      {"relay-only path without a relay", kMinimalToml + peer + "path = \"relay\"\n", {3, "path", {"needs a [[relay]]"}}},
      {"relay without an address", kMinimalToml + "[[relay]]\nname = \"r\"\n", {3, "address", {"missing"}}},
      {"relay without a name", kMinimalToml + "[[relay]]\naddress = \"r:1\"\n", {3, "name", {"missing"}}},
      {"two relays of one name",
       kMinimalToml + "[[relay]]\nname = \"r\"\naddress = \"a:1\"\n[[relay]]\nname = \"r\"\naddress = \"b:1\"\n",
       {6, "name", {"names two relays"}}},
      {"bad STUN server", kMinimalToml + "[[relay]]\nname = \"r\"\naddress = \"a:1\"\nstun = [\"a\"]\n", {6, "stun"}},
      {"home_relay names no relay",
       kMinimalToml + "[[relay]]\nname = \"r\"\naddress = \"a:1\"\n[nat]\nhome_relay = \"x\"\n",
       {7, "home_relay", {"no [[relay]] is named 'x'"}}},
      {"peer relay names no relay",
       kMinimalToml + "[[relay]]\nname = \"r\"\naddress = \"a:1\"\n" + peer + "relay = \"x\"\n",
       {8, "relay", {"no [[relay]] is named 'x'"}}},
      {"unknown key in [nat]", kMinimalToml + "[nat]\nportmap = true\n", {4, "portmap", {"unknown key in [nat]"}}},
  };
  for (const ErrorCase& c : cases) {
    SUBCASE(c.what) {
      check_error(config_error([&] { parse(c.text); }), c.expected);
    }
  }
}

TEST_CASE("TOML: an allowed IP claimed by two peers is a warning, not an error") {
  const Config c = parse_toml(kMinimalToml + "[[peer]]\npublic_key = \"" + b64(2) +
                                  "\"\nallowed_ips = [\"10.0.0.0/24\"]\n[[peer]]\npublic_key = \"" +
                                  b64(3) + "\"\nallowed_ips = [\"10.0.0.7/24\"]\n",
                              "x.toml");
  REQUIRE(c.warnings.size() == 1);
  CHECK_CONTAINS(c.warnings[0], "x.toml:6: allowed_ips: 10.0.0.0/24");
}

TEST_CASE("A failed load returns nothing and leaves the caller's config alone") {
  TempDir dir;
  const fs::path good = dir.write("good.toml", kMinimalToml + "listen_port = 1000\n");
  // Valid up to the very last line.
  const fs::path bad = dir.write("bad.toml", kMinimalToml + "listen_port = 2000\n[[peer]]\n" +
                                                 "public_key = \"" + b64(2) + "\"\nbogus = 1\n");
  Config c = load_config(good);
  CHECK_THROWS_AS(c = load_config(bad), ConfigError);
  CHECK(c.interface.listen_port == std::optional<uint16_t>(1000));
  CHECK(c.peers.empty());
}

TEST_CASE("default_config_toml parses and describes a node without peers") {
  const std::string text = default_config_toml("/var/lib/qvpn/private.key");
  CHECK_CONTAINS(text, "private_key_file = \"/var/lib/qvpn/private.key\"");
  CHECK_CONTAINS(text, "# [[peer]]");
  fs::path read_from;
  ConfigParseOptions o;
  o.read_key_file = [&](const fs::path& p) {
    read_from = p;
    return b64(1);
  };
  const Config c = parse_toml(text, "/etc/qvpn/qvpn.toml", o);
  CHECK(read_from == "/var/lib/qvpn/private.key");
  CHECK(c.interface.listen_port == std::optional<uint16_t>(kDefaultListenPort));
  CHECK(c.interface.addresses.empty());
  CHECK(c.peers.empty());

  // A path that needs escaping survives the round trip.
  const std::string odd = default_config_toml("dir \"q\"\\key");
  parse_toml(odd, "/etc/qvpn/qvpn.toml", o);
  CHECK(read_from == "/etc/qvpn/dir \"q\"\\key");
}

TEST_CASE("wg-quick: a typical .conf") {
  const std::string text =
      "[Interface]\n"
      "# the node\n"
      "PrivateKey = " +
      b64(1) +
      "\n"
      "ListenPort = 51820\n"
      "Address = 10.0.0.1/24, fd00::1/64\n"
      "address=10.9.0.1\n"
      "DNS = 1.1.1.1, 8.8.8.8\n"
      "PostUp = iptables -A FORWARD -i %i -j ACCEPT\n"
      "FwMark = 0xca6c\n"
      "MTU = 1400\n"
      "\n"
      "[Peer]\n"
      "PublicKey = " +
      b64(2) +
      "  # laptop\n"
      "PresharedKey = " +
      b64(7) +
      "\n"
      "AllowedIPs = 10.0.0.2/32, fd00::2/128\n"
      "AllowedIPs = 192.168.0.0/16\n"
      "Endpoint = [2001:db8::1]:51820\n"
      "PersistentKeepalive = off\n"
      "\n"
      "[peer]\n"
      "publickey = " +
      b64(3) +
      "\r\n"
      "endpoint = 203.0.113.5:4500\r\n"
      "persistentkeepalive = 25\r\n"
      "AllowedIPs = 0.0.0.0/0, ::/0\n";
  const Config c = parse_wg_quick(text, "/etc/wireguard/wg0.conf");
  CHECK(c.interface.name == "wg0");
  CHECK(secret_is(c.interface.private_key, 1));
  CHECK(c.interface.listen_port == std::optional<uint16_t>(51820));
  REQUIRE(c.interface.addresses.size() == 3);
  CHECK(c.interface.addresses[0].to_string() == "10.0.0.1/24");
  CHECK(c.interface.addresses[1].to_string() == "fd00::1/64");
  CHECK(c.interface.addresses[2].to_string() == "10.9.0.1/32");
  CHECK(c.interface.fwmark == 0xca6c);
  CHECK(c.interface.mtu == 1400);
  REQUIRE(c.warnings.size() == 2);
  CHECK(c.warnings[0].starts_with("/etc/wireguard/wg0.conf:7: DNS: ignored"));
  CHECK(c.warnings[1].starts_with("/etc/wireguard/wg0.conf:8: PostUp: ignored"));

  REQUIRE(c.peers.size() == 2);
  CHECK(c.peers[0].public_key == pub(2));
  REQUIRE(c.peers[0].preshared_key.has_value());
  CHECK(secret_is(*c.peers[0].preshared_key, 7));
  REQUIRE(c.peers[0].allowed_ips.size() == 3);
  CHECK(c.peers[0].allowed_ips[2].to_string() == "192.168.0.0/16");
  CHECK(c.peers[0].endpoint == std::optional<std::string>("[2001:db8::1]:51820"));
  CHECK(c.peers[0].persistent_keepalive == 0);
  CHECK(c.peers[1].public_key == pub(3));
  CHECK(c.peers[1].endpoint == std::optional<std::string>("203.0.113.5:4500"));
  CHECK(c.peers[1].persistent_keepalive == 25);
  REQUIRE(c.peers[1].allowed_ips.size() == 2);
  CHECK(c.peers[1].allowed_ips[1].to_string() == "::/0");
}

TEST_CASE("wg-quick: load_config picks the format by extension or by content") {
  TempDir dir;
  const std::string text = "[Interface]\nPrivateKey = " + b64(1) + "\n";
  CHECK(load_config(dir.write("wg1.conf", text)).interface.name == "wg1");
  // No .conf extension: recognised by its first section header.
  const Config c = load_config(dir.write("node.cfg", "# hello\n\n" + text));
  CHECK(secret_is(c.interface.private_key, 1));
  CHECK(c.interface.name.empty());
  // The same content refused when others can read it.
  const fs::path open = dir.write("wg2.conf", text, 0644);
  check_error(config_error([&] { load_config(open); }), {2, "PrivateKey", {"chmod 600"}});
}

TEST_CASE("wg-quick: errors name file, line and key") {
  const fs::path name = "wg0.conf";
  const auto parse = [&](const std::string& text) { parse_wg_quick(text, name); };
  const std::string iface = "[Interface]\nPrivateKey = " + b64(1) + "\n";
  const std::string peer = "[Peer]\nPublicKey = " + b64(2) + "\n";

  SUBCASE("bad base64 key") {
    const auto e = config_error([&] { parse(iface + "[Peer]\nPublicKey = AAAA\n"); });
    check_error(e, {4, "PublicKey"});
    CHECK(std::string(e.what()).starts_with("wg0.conf:4: PublicKey: "));
  }
  const ErrorCase cases[] = {
      {"unknown key, spelled as written", iface + "ListenPrt = 1\n", {3, "ListenPrt"}},
      {"bad CIDR in a list",
       iface + peer + "AllowedIPs = 10.0.0.0/8, 10.0.0.0/40\n",
       {5, "AllowedIPs", {"10.0.0.0/40"}}},
      {"bad port", iface + "ListenPort = 65536\n", {3, "ListenPort"}},
      {"duplicate peer", iface + peer + "\n" + peer, {6, "PublicKey", {"line 3"}}},
      {"missing private key", "[Interface]\nListenPort = 1\n", {1, "PrivateKey"}},
      {"a key given twice", iface + "MTU = 1400\nMtu = 1300\n", {4, std::nullopt, {"line 3"}}},
      {"a key before any section", "ListenPort = 1\n" + iface, {1, "ListenPort"}},
      {"unknown section", iface + "[Peers]\n", {3, std::nullopt}},
      {"line without '='", iface + "ListenPort 1\n", {3, std::nullopt, {"Key = Value"}}},
      {"peer without a public key", iface + "[Peer]\nAllowedIPs = 10.0.0.0/8\n", {3, "PublicKey"}},
      {"no [Interface]", "# nothing\n", {std::nullopt, std::nullopt, {"missing [Interface]"}}},
  };
  for (const ErrorCase& c : cases) {
    SUBCASE(c.what) {
      check_error(config_error([&] { parse(c.text); }), c.expected);
    }
  }
}

TEST_CASE("ConfigError leaves out the parts that do not apply") {
  CHECK(std::string(ConfigError("a.toml", 3, "mtu", "bad").what()) == "a.toml:3: mtu: bad");
  CHECK(std::string(ConfigError("a.toml", 0, "mtu", "bad").what()) == "a.toml: mtu: bad");
  CHECK(std::string(ConfigError("a.toml", 3, "", "bad").what()) == "a.toml:3: bad");
  CHECK(std::string(ConfigError("", 0, "endpoint", "bad").what()) == "endpoint: bad");
  const ConfigError e("", 0, "", "bad");
  CHECK(std::string(e.what()) == "bad");
  CHECK(e.file().empty());
  CHECK(e.line() == 0);
  CHECK(e.key().empty());
}

TEST_CASE("InterfaceAddress and interface names") {
  CHECK(InterfaceAddress::parse("10.0.0.1/24")->prefix_len == 24);
  CHECK(InterfaceAddress::parse("fd00::1")->prefix_len == 128);
  CHECK(!InterfaceAddress::parse("10.0.0.1/"));
  CHECK(!InterfaceAddress::parse("10.0.0.1/33"));
  CHECK(!InterfaceAddress::parse("10.0.0.1/-1"));
  CHECK(!InterfaceAddress::parse("host/24"));
  CHECK(is_valid_interface_name("wg0"));
  CHECK(is_valid_interface_name("qvpn-home.1"));
  CHECK(!is_valid_interface_name(""));
  CHECK(!is_valid_interface_name("sixteen-chars-xx"));
  CHECK(!is_valid_interface_name(".."));
  CHECK(!is_valid_interface_name("a b"));
}
