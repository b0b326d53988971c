#!/usr/bin/env bash
# What the real-browser test (tests/workshop/test_browser.py) needs: Debian's Chromium and
# Python's playwright. Playwright drives /usr/bin/chromium through executable_path, so no
# `playwright install` and no browser download: only Debian's and PyPI's packages.
# Idempotent: installs only what is missing. .ci/run calls it after `pip install -e ".[lab]"`.
set -euo pipefail
PY="${PYTHON:-python}"

if [[ ! -x /usr/bin/chromium ]]; then
  if [[ "$(id -u)" != 0 ]]; then
    echo "install-browser: /usr/bin/chromium is missing; as root: apt-get install -y chromium" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q chromium
fi
# (Debian's /usr/bin/chromium wrapper may print a harmless "[: ...: unexpected operator".)
echo "install-browser: $(/usr/bin/chromium --version 2>/dev/null)"

# playwright belongs in pyproject's [lab] extra; this covers an environment without it.
if ! "$PY" -c "import playwright" 2>/dev/null; then
  "$PY" -m pip install -q "playwright>=1.49"
fi
echo "install-browser: playwright $("$PY" -m pip show playwright | sed -n 's/^Version: //p')"
