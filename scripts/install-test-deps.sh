#!/usr/bin/env bash
# Debian packages the test suite uses as real peers: softflowd (exporter), nfdump/nfcapd (collector),
# tshark (capture reference), litecoind and monerod (regtest nodes), ndpiReader (libndpi-bin: the
# peer of bench/pcap-ndpi.ts); pmacct (pmacctd's sfprobe exports sFlow, sfacctd collects it:
# test/sflow/pmacct.test.ts, bench/sflow.ts); jq (the usage pages pipe JSON through it; test/docs); zstd, bzip2 and
# xz-utils (compress the fixtures for test/flow/compressed-input.test.ts); chromium (the console's
# browser tests, driven by playwright-core without a browser download); clickhouse-server (18.16:
# the ClickHouse engine's tests start it as the current user on loopback ports); strace (shows the
# spool's flushes to disk: test/netflow/spool.test.ts). Installs only what is
# missing.
set -euo pipefail
need=()
for pkg in softflowd nfdump pmacct tshark litecoind monero libndpi-bin jq zstd bzip2 xz-utils chromium clickhouse-server strace; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-test-deps: missing ${need[*]} and not root; tests that need them will skip" >&2
    exit 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections || true
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
fi
