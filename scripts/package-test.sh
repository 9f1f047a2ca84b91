#!/usr/bin/env bash
# Checks a built .deb as a township PC would meet it: its files and control data, that every shared library
# its binaries load is the C library's or is owned by a package it Depends on (so `apt install ./daiban_….deb`
# brings everything, with no Swift toolchain), and that the unpacked binaries run with a bare environment:
# `--version`, and a record carried from one replica to another by a bundle file.
set -euo pipefail
cd "$(dirname "$0")/.."
deb=${1:-$(ls -t dist/daiban_*.deb | head -1)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "package test: $*" >&2; exit 1; }

dpkg-deb --info "$deb" >"$work/info"
dpkg-deb --contents "$deb" >"$work/contents"
for f in ./usr/bin/daiban ./usr/bin/daiban-server ./usr/lib/systemd/system/daiban-server.service \
         ./usr/share/bash-completion/completions/daiban ./usr/share/zsh/vendor-completions/_daiban-server \
         ./usr/share/doc/daiban/README.md ./etc/daiban/environment; do
  grep -q " $f\$" "$work/contents" || fail "$f is missing from $deb"
done
depends=$(dpkg-deb --field "$deb" Depends)
[ -n "$depends" ] || fail "no Depends"

dpkg-deb -x "$deb" "$work/root"
for bin in "$work/root/usr/bin/daiban" "$work/root/usr/bin/daiban-server"; do
  ldd "$bin" | grep -q "not found" && fail "$(basename "$bin") needs a library that is not installed: $(ldd "$bin" | grep 'not found')"
  ldd "$bin" | grep -q "/opt/swift\|libswift\|libFoundation" && fail "$(basename "$bin") still loads the Swift runtime: $(ldd "$bin" | grep -i swift)"
  for lib in $(objdump -p "$bin" | awk '/NEEDED/ {print $2}' | while read -r so; do ldd "$bin" | awk -v so="$so" '$1 == so {print $3}'; done); do
    pkg=$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null | head -1 | cut -d: -f1) || pkg=$(dpkg -S "$lib" | head -1 | cut -d: -f1)
    case "$pkg" in libc6|libgcc-s1|libstdc++6) continue ;; esac
    echo "$depends" | tr ',' '\n' | sed 's/ //g; s/(.*//' | grep -qx "$pkg" || fail "$lib ($pkg) is not in Depends: $depends"
  done
done

# A bare environment: no toolchain on PATH, no library path.
run() { env -i HOME="$work/home" LANG=C.UTF-8 PATH=/usr/bin:/bin "$work/root/usr/bin/$@"; }
run daiban --version | grep -Eq "^[0-9]+\.[0-9]+" || fail "daiban --version"
run daiban-server --version | grep -Eq "^[0-9]+\.[0-9]+" || fail "daiban-server --version"
run daiban init --author a01 --home "$work/a" >/dev/null
run daiban init --author b01 --home "$work/b" >/dev/null
run daiban record put township T-1 name=石门乡 kind=TOWN --home "$work/a" >/dev/null
run daiban export "$work/a.bundle" --home "$work/a" >/dev/null
run daiban import "$work/a.bundle" --home "$work/b" >/dev/null
run daiban record get township T-1 --json --home "$work/b" | grep -q "石门乡" || fail "the bundle round trip lost the record"
echo "package test: $deb passed ($(du -h "$deb" | cut -f1); Depends: $depends)"
