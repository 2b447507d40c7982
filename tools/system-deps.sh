#!/bin/sh
# The system tools the test suite runs, from Debian's packages: chromium for the browser tests (or a browser
# named by CHROMIUM_PATH), promtool, from prometheus, for the alert-rule tests, and npm (with nodejs) to install
# axe-core from tools/axe's lock for the accessibility checks. As root it installs what
# is missing; otherwise it stops with the one command to run, so no test goes without its tool.
set -eu

missing() {
  if [ -z "${CHROMIUM_PATH:-}" ] && ! command -v chromium >/dev/null 2>&1 \
    && ! command -v chromium-browser >/dev/null 2>&1; then
    printf 'chromium '
  fi
  command -v promtool >/dev/null 2>&1 || printf 'prometheus '
  command -v npm >/dev/null 2>&1 || printf 'nodejs npm '
}

packages=$(missing)
[ -z "$packages" ] && exit 0
packages=${packages% }
need="The tests need Debian's package(s) $packages (chromium; promtool from prometheus; npm for axe-core)"

if ! command -v apt-get >/dev/null 2>&1; then
  echo "$need: install their equivalent (and set CHROMIUM_PATH if the browser has another name)." >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "$need: run  sudo $0" >&2
  exit 1
fi
echo "Installing Debian's $packages for the tests"
apt-get update -qq
# shellcheck disable=SC2086 # one word per package
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null
still=$(missing)
if [ -n "$still" ]; then
  echo "Installed, but still not on PATH: ${still% }" >&2
  exit 1
fi
