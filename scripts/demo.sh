#!/usr/bin/env bash
# `make demo`: bring a local stack up, prove it works, report, and take it down again.
set -euo pipefail
NAME="${DEMO_STACK:-demo}"
REPORT_DIR="${DEMO_REPORT_DIR:-reports}"
mkdir -p "$REPORT_DIR"

cleanup() { appliance down --name "$NAME" || true; }
trap cleanup EXIT

appliance doctor --target local
appliance up --target local --name "$NAME" --profile standard
appliance status --name "$NAME"
python scripts/demo_roundtrip.py "$NAME"
