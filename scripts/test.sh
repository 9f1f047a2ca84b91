#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds everything (release, so the 1,000 random
# convergence histories run in about a minute), then runs every test. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --build-tests
swift test -c release --skip-build
