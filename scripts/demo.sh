#!/usr/bin/env bash
# `make demo`: install (done by make) → appliance up (local) → conformance → report → down.
set -euo pipefail
# Development machines keep the pinned upstream manifests beside the checkout (../shared/upstream):
# the review reads them from there. Elsewhere it uses the user's cache (`appliance fetch`).
shared="$(dirname "$0")/../../shared/upstream"
if [ -z "${APPLIANCE_UPSTREAM:-}" ] && [ -d "$shared" ]; then
  export APPLIANCE_UPSTREAM="$(cd "$shared" && pwd)"
fi
NAME="${DEMO_STACK:-demo}"
REPORT_DIR="${DEMO_REPORT_DIR:-reports}"
mkdir -p "$REPORT_DIR"

cleanup() { appliance down --name "$NAME" || true; }
trap cleanup EXIT

appliance doctor --target local
appliance up --target local --name "$NAME" --profile standard
appliance status --name "$NAME"
python scripts/demo_roundtrip.py "$NAME"

conformance=0
appliance conformance --stack "$NAME" \
  --report "$REPORT_DIR/conformance.md" --junitxml "$REPORT_DIR/junit.xml" || conformance=$?
# The review renders the profile from the pinned upstream manifests: fetch what is missing
# (online; progress on stderr, a copy in fetch.log for the summary). Offline it fails: NOT RUN.
fetch_log="$REPORT_DIR/fetch.log"
set +e
appliance fetch --profile standard 2>&1 | tee "$fetch_log" >&2
fetch=${PIPESTATUS[0]}
set -e
review=0
if [ "$fetch" -eq 0 ]; then
  appliance review --profile standard --format markdown -o "$REPORT_DIR/review.md" || review=$?
fi

echo
echo "== summary =="
if [ "$conformance" -eq 0 ]; then verdict=PASSED; else verdict="FAILED (exit $conformance)"; fi
echo "conformance on the local stack: $verdict; report $REPORT_DIR/conformance.md, JUnit $REPORT_DIR/junit.xml"
if [ "$fetch" -ne 0 ]; then
  # Offline (or without git/kubectl) the review cannot run: not a failure of the demo. Say why,
  # with fetch's own error line (what failed, why, the fix).
  why="$(grep '^error: ' "$fetch_log" | tail -n 1 | sed 's/^error: //')"
  echo "security review of profile standard: NOT RUN, upstream manifests not cached and 'appliance fetch' failed (exit $fetch): ${why:-see $fetch_log}"
elif [ "$review" -eq 0 ]; then
  echo "security review of profile standard: nothing at or above high; report $REPORT_DIR/review.md"
elif [ "$review" -eq 1 ]; then
  echo "security review of profile standard: findings at or above high; report $REPORT_DIR/review.md"
else
  echo "security review of profile standard: FAILED (exit $review)"
fi
exit $(( conformance != 0 || review != 0 ))
