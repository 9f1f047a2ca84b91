#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds everything (release, so the 1,000 random
# convergence histories run in about a minute), runs every test, the short mode of every fault campaign and of
# the fuzzing (RELIABILITY.md), each campaign once more with its planted defect (which it must catch), the short
# load test on SQLite and on PostgreSQL with two instances (each with its planted defect), then
# builds the Debian package and checks it (scripts/package-test.sh). `.ci/run` calls exactly this.
# A PostgreSQL 15 runs on loopback for the tests (scripts/with-postgres.sh; installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --build-tests
# The tests that need PostgreSQL (the account store on both backends, several instances sharing one replica) get a
# throwaway one on loopback.
scripts/with-postgres.sh swift test -c release --skip-build
.build/release/daiban-bench faults all --short
.build/release/daiban-bench faults all --short --plant
# The load test's CI size: agents, townships and the centre at work; 0 errors and every replica converged. Then the
# same with two instances on one PostgreSQL database, each device switching instance at every sync.
.build/release/daiban-bench load --short
.build/release/daiban-bench load --short --plant
scripts/with-postgres.sh .build/release/daiban-bench load --short --database postgres --instances 2
scripts/with-postgres.sh .build/release/daiban-bench load --short --database postgres --instances 2 --plant
scripts/fuzz.sh --short
scripts/package.sh
scripts/package-test.sh
