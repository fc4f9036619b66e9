#!/usr/bin/env bash
# Regenerate constraints.txt (the full transitive lock) from requirements.txt, in a throwaway
# venv, so the lock never picks up whatever happens to be installed in .venv.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
"$PYTHON" -m venv "$scratch/venv"
"$scratch/venv/bin/python" -m pip install --quiet --upgrade pip
"$scratch/venv/bin/python" -m pip install --quiet -r "$ROOT/requirements.txt"
"$scratch/venv/bin/python" -m pip freeze --exclude-editable | grep -v '^credit-risk-monitor' \
  > "$ROOT/constraints.txt"
echo "wrote $ROOT/constraints.txt ($(wc -l < "$ROOT/constraints.txt") pins)"
