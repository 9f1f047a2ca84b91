#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds everything (release, so the 1,000 random
# convergence histories run in about a minute), runs every test, then builds the Debian package and checks it
# (scripts/package-test.sh). `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --build-tests
swift test -c release --skip-build
scripts/package.sh
scripts/package-test.sh
