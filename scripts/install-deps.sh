#!/usr/bin/env bash
# Installs the system packages daiban needs (Debian/Ubuntu), only when they are missing: SQLite and zlib
# headers; libharu and the AR PL UMing (宋体-style) font for printed forms; libxlsxwriter for Excel files;
# poppler-utils (the tests read the printed forms back with pdftotext) and openssl (the tests make a throwaway
# TLS certificate with it). Packages named as arguments are added (scripts/with-postgres.sh asks for postgresql-15).
set -euo pipefail
need=()
for pkg in libsqlite3-dev zlib1g-dev libhpdf-dev fonts-arphic-uming libxlsxwriter-dev poppler-utils openssl "$@"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
  echo "installing: ${need[*]}" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi
command -v swift >/dev/null || { echo "swift is not on PATH (expected Swift 6.1 or later)" >&2; exit 1; }
