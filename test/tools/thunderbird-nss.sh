#!/usr/bin/env bash
# Provisions "Thunderbird's NSS" (../../shared/INTEROP.md): the NSS libraries bundled in Debian's thunderbird
# package, which the system cmsutil/certutil/pk12util then load through LD_LIBRARY_PATH (no Thunderbird install).
# Fetches once into a cache dir (`apt-get download`, `dpkg-deb -x`) and prints the library directory.
# Idempotent and fast when cached. Needs `apt-get update` to have run (CI does that first).
set -euo pipefail

cache="${SEALPOST_ORACLE_CACHE:-$HOME/.cache/sealpost-oracles}/thunderbird"
libdir="$cache/lib"
# NSS proper, its softoken + freebl (dlopened by libnss3 from its own directory) and the sqlite softoken links to.
LIBS=(libnss3.so libnssutil3.so libsmime3.so libssl3.so libsoftokn3.so libfreeblpriv3.so libmozsqlite3.so)

# .ok is written only after a complete extraction, so an interrupted run starts over.
if [[ -f "$cache/.ok" && -f "$libdir/libnss3.so" ]]; then
  echo "$libdir"
  exit 0
fi

mkdir -p "$cache"
cd "$cache"
rm -rf root lib .ok
# apt-get download writes into the current directory (as root it warns about the _apt sandbox: harmless).
# Stale or missing package lists make it fail: refresh them once (root only) and retry.
if ! ls thunderbird_*.deb >/dev/null 2>&1 && ! apt-get download -q thunderbird >&2; then
  [[ $(id -u) == 0 ]] || exit 1
  apt-get update -qq >&2
  apt-get download -q thunderbird >&2
fi
deb="$(ls -t thunderbird_*.deb | head -1)"
dpkg-deb -x "$deb" root
mkdir lib
for l in "${LIBS[@]}"; do
  [[ -f "root/usr/lib/thunderbird/$l" ]] || {
    echo "thunderbird-nss: $deb has no usr/lib/thunderbird/$l" >&2
    exit 1
  }
  mv "root/usr/lib/thunderbird/$l" lib/
done
# Keep only those libraries (~5 MB): the .deb (~80 MB) and the rest of the tree (~200 MB, mostly libxul) go.
rm -rf root "$deb"
echo "$deb" >.ok
echo "$libdir"
