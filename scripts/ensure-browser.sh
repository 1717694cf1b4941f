#!/bin/sh
# Run before `npm test`: the end-to-end tests drive Debian's chromium. On a fresh machine where we
# may install packages (root with apt-get), install it (and Japanese fonts for the screenshots);
# otherwise say how, and let the e2e tests fail with their own clear message.
set -eu
if [ -x /usr/bin/chromium ] && [ -e /usr/share/fonts/opentype/ipafont-gothic ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "kenshin: installing chromium and Japanese fonts from Debian for the browser tests…" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium fonts-ipafont-gothic >/dev/null
else
  echo "kenshin: the browser tests need Debian's chromium: sudo apt-get install chromium fonts-ipafont-gothic" >&2
fi
