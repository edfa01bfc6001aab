#!/usr/bin/env bash
# Regenerate requirements.lock: a fresh venv with the newest versions pyproject.toml allows.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet -e '.[dev]'
{
  echo "# Exact versions that \`make\` installs (pip constraints); regenerate with scripts/lock.sh after changing pyproject.toml."
  "$tmp/venv/bin/pip" freeze --exclude-editable | grep -viE '^(clinic-audit|-e )'
} > requirements.lock
rm -rf "$tmp"
echo "requirements.lock: $(grep -vc '^#' requirements.lock) packages"
