#!/usr/bin/env bash
# The long crash loop (not part of ctest): the same test as tests/active/test_crash_loop.sh, with
# many more SIGKILL rounds under the pgbench load, against its own PostgreSQL and S3 servers.
#   tests/soak/crash_soak.sh [ROUNDS]        (default 200; about 1.5 s per round)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
rounds=${1:-200}
svc=$(mktemp -d /tmp/sluice-soak.XXXXXX)
chmod 755 "$svc"
trap 'bash "$here/tests/active/services.sh" stop "$svc/svc" >/dev/null 2>&1 || true; rm -rf "$svc"' EXIT
bash "$here/tests/active/services.sh" start "$svc/svc"
SLUICE=${SLUICE:-$here/build/sluice} SL_SOURCE_DIR=$here SL_SVC=$svc/svc SL_CRASH_ROUNDS=$rounds \
    bash "$here/tests/active/test_crash_loop.sh"
