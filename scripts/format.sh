#!/usr/bin/env bash
# clang-format the tree (.clang-format at the root); --check only reports, exit 1 if unformatted.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.c' '*.h')
if [[ "${1:-}" == "--check" ]]; then
    out=$(clang-format --dry-run "${files[@]}" 2>&1 | grep 'warning:' | cut -d: -f1 | sort -u || true)
    if [[ -n "$out" ]]; then
        echo "format: not clang-formatted (run scripts/format.sh):"
        echo "$out"
        exit 1
    fi
    echo "format: ok (${#files[@]} files)"
else
    clang-format -i "${files[@]}"
fi
