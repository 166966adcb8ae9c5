#!/usr/bin/env bash
# Make sure a Chromium is there for tests/test_browser.py (called by `make test`).
#
# * A Chromium already on the machine (or CHROMIUM=/path/to/chromium) is used as it is.
# * In CI (CI=true) a missing Chromium is installed from Debian with apt-get (as root, or with
#   sudo): the browser tests must run there, never skip.
# * Elsewhere nothing is installed: the browser tests skip and say how to enable them.
#
# Playwright's own browser download (`playwright install`) is never used.
set -euo pipefail

find_chromium() {
  local name
  for name in "${CHROMIUM:-}" chromium chromium-browser google-chrome google-chrome-stable; do
    if [ -n "$name" ] && command -v "$name" >/dev/null 2>&1; then
      command -v "$name"
      return 0
    fi
  done
  return 1
}

if exe=$(find_chromium); then
  echo "ensure_chromium: using $exe ($("$exe" --version 2>/dev/null | head -n 1 || true))"
  exit 0
fi

case "${CI:-}" in
  1 | true | TRUE | True | yes) ;;
  *)
    echo "ensure_chromium: no Chromium found; the browser tests (tests/test_browser.py) will skip."
    echo "ensure_chromium: to run them: sudo apt-get install chromium (or set CHROMIUM=/path/to/chromium)."
    exit 0
    ;;
esac

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_chromium: CI is set but there is no Chromium and no apt-get to install it" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "ensure_chromium: CI and no Chromium: installing Debian's chromium with apt-get"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
exe=$(find_chromium) || { echo "ensure_chromium: chromium was installed but is not on PATH" >&2; exit 1; }
echo "ensure_chromium: installed $exe ($("$exe" --version 2>/dev/null | head -n 1 || true))"
