#!/usr/bin/env bash
# Install the Ceph daemons the test suite uses as a real local S3 server (tests/support/ceph_rgw.py):
# one monitor, one memstore OSD and the RADOS Gateway, from Debian. Idempotent; called by `make setup`.
#
# Without root this only says what to run: the S3 tests then skip themselves with the same hint.
set -euo pipefail

PACKAGES=(ceph-mon ceph-osd radosgw)
BINARIES=(ceph ceph-mon ceph-osd monmaptool radosgw radosgw-admin)  # = REQUIRED_BINARIES in tests/support/ceph_rgw.py

have_all() {
    local bin
    for bin in "${BINARIES[@]}"; do
        command -v "$bin" >/dev/null 2>&1 || return 1
    done
}

if have_all; then
    echo "install-ceph: ceph-mon, ceph-osd and radosgw are already installed ($(ceph-mon --version 2>/dev/null | awk '{print $3}'))"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-ceph: skipped (not root). To enable the S3 tests run as root:" >&2
    echo "    apt-get update && apt-get install -y --no-install-recommends ${PACKAGES[*]}" >&2
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-ceph: skipped (no apt-get; install ${PACKAGES[*]} with your package manager)" >&2
    exit 0
fi

echo "install-ceph: installing ${PACKAGES[*]} from the distribution"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${PACKAGES[@]}"

if ! have_all; then
    echo "install-ceph: installed, but some of ${BINARIES[*]} are still not on PATH" >&2
    exit 1
fi
echo "install-ceph: done ($(ceph-mon --version | awk '{print $3}'))"
