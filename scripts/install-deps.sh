#!/usr/bin/env bash
# Installs the Debian 12 packages qvpn builds, tests and benchmarks with, if any are missing.
set -euo pipefail
pkgs=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libsodium-dev android-libboringssl-dev libasio-dev libfmt-dev libtomlplusplus-dev
  doctest-dev libbenchmark-dev libsystemd-dev nlohmann-json3-dev
  iproute2 iptables iputils-ping procps psmisc python3
  wireguard-go wireguard-tools iperf3 shellcheck
  libminiupnpc-dev libnatpmp-dev miniupnpc natpmpc miniupnpd-iptables coturn curl
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
