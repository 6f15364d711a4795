#!/usr/bin/env bash
# The interop matrix (test_interop.sh) with qvpn-wg's kernel offloads switched off: plain
# TUN reads and writes, no UDP GSO/GRO; only the batching and crypto threads remain.
QVPN_OFFLOAD=0 E2E_XFER_BYTES=${E2E_XFER_BYTES:-100000000} exec bash "$(dirname "$0")/test_interop.sh"
