#!/usr/bin/env bash
# Builds daiban_<version>_<arch>.deb: both executables with the Swift runtime linked in (no toolchain needed on
# the township PC), a systemd unit for the server, shell completions and the README. Depends are read off the
# binaries with ldd and mapped to the Debian packages that own those libraries, plus the font printed forms use.
#   scripts/package.sh            # writes dist/daiban_<version>_<arch>.deb
#   scripts/package.sh --no-build # packages the last static build
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
[ "${1:-}" = "--no-build" ] && build=0
scripts/install-deps.sh
if [ "$build" = 1 ]; then
  echo "building (release, static Swift runtime)…" >&2
  swift build -c release --static-swift-stdlib --product daiban
  swift build -c release --static-swift-stdlib --product daiban-server
fi
bin=$(swift build -c release --show-bin-path)
version=$("$bin/daiban" --version | awk '{print $1}')
arch=$(dpkg --print-architecture)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

install -d "$root/DEBIAN" "$root/usr/bin" "$root/usr/lib/systemd/system" "$root/usr/share/doc/daiban" \
  "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
  "$root/usr/share/fish/vendor_completions.d" "$root/etc/daiban"
install -m 0755 -s "$bin/daiban" "$bin/daiban-server" "$root/usr/bin/"
for tool in daiban daiban-server; do
  "$bin/$tool" --generate-completion-script bash >"$root/usr/share/bash-completion/completions/$tool"
  "$bin/$tool" --generate-completion-script zsh >"$root/usr/share/zsh/vendor-completions/_$tool"
  "$bin/$tool" --generate-completion-script fish >"$root/usr/share/fish/vendor_completions.d/$tool.fish"
done
install -m 0644 README.md SECURITY.md "$root/usr/share/doc/daiban/"
install -m 0644 server/README.md "$root/usr/share/doc/daiban/server-README.md"
cat >"$root/usr/share/doc/daiban/copyright" <<'TXT'
daiban — agency-service case replicas and their sync server.
The packaged binaries link the Swift runtime and the Swift packages named in Package.swift statically,
under their own licences (Apache-2.0 with Runtime Library Exception, MIT, BSD); see each package's LICENSE.
TXT

# The server as a service: its own user, its data under /var/lib/daiban, its config in /etc/daiban.
cat >"$root/usr/lib/systemd/system/daiban-server.service" <<'UNIT'
[Unit]
Description=daiban sync server (代办服务同步服务器)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=daiban
Group=daiban
Environment=DAIBAN_DATA=/var/lib/daiban
EnvironmentFile=-/etc/daiban/environment
ExecStart=/usr/bin/daiban-server serve
Restart=on-failure
RestartSec=5
UMask=0077
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
ReadWritePaths=/var/lib/daiban
StateDirectory=daiban
StateDirectoryMode=0700

[Install]
WantedBy=multi-user.target
UNIT
cat >"$root/etc/daiban/environment" <<'ENV'
# Settings for daiban-server.service (see /usr/share/doc/daiban/server-README.md), for example:
# DAIBAN_PORT=8080
ENV

cat >"$root/DEBIAN/postinst" <<'SH'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  getent group daiban >/dev/null || addgroup --system daiban
  getent passwd daiban >/dev/null || adduser --system --ingroup daiban --home /var/lib/daiban --no-create-home daiban
  install -d -m 0700 -o daiban -g daiban /var/lib/daiban
  if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null 2>&1 || true; fi
fi
SH
cat >"$root/DEBIAN/postrm" <<'SH'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null 2>&1 || true; fi
SH
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/postrm"
echo /etc/daiban/environment >"$root/DEBIAN/conffiles"

# Depends: the package of every shared library the binaries name (NEEDED; what those load, their packages bring),
# but the C library's own, which every Debian has.
needed_libs() { objdump -p "$1" | awk '/NEEDED/ {print $2}' | while read -r so; do ldd "$1" | awk -v so="$so" '$1 == so {print $3}'; done; }
deps=$(for f in "$root/usr/bin/"*; do needed_libs "$f"; done | sort -u | while read -r lib; do
  [ -n "$lib" ] || continue
  real=$(readlink -f "$lib")
  pkg=$(dpkg -S "$real" 2>/dev/null | head -1 | cut -d: -f1) || pkg=""
  [ -n "$pkg" ] || pkg=$(dpkg -S "$lib" 2>/dev/null | head -1 | cut -d: -f1) || pkg=""
  [ -n "$pkg" ] || { echo "no Debian package owns $lib" >&2; exit 1; }
  case "$pkg" in libc6|libgcc-s1|libstdc++6) ;; *) echo "$pkg" ;; esac
done | sort -u | paste -sd, | sed 's/,/, /g')
size=$(du -sk "$root/usr" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: daiban
Version: $version
Architecture: $arch
Maintainer: daiban maintainers <daiban@localhost>
Installed-Size: $size
Depends: libc6, ${deps}, fonts-arphic-uming, adduser
Suggests: poppler-utils
Section: misc
Priority: optional
Description: 代办服务 case replicas for agents, townships and the county centre
 daiban keeps an offline SQLite replica of a county's investment-project agency
 cases (代办服务) on each agent's laptop and office PC, and syncs them through
 daiban-server or by bundle files. Field-level version vectors detect concurrent
 edits; the server checks every change against what its account may do.
 Prints the forms (代办登记表, 办结单 …) as PDF and exchanges Excel workbooks.
CONTROL

mkdir -p dist
out="dist/daiban_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$root" "$out" >/dev/null
echo "$out ($(du -h "$out" | cut -f1)); Depends: libc6, ${deps}, fonts-arphic-uming, adduser"
