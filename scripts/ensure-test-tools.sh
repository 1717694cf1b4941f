#!/bin/sh
# Run before `npm test`: the tests drive real Debian programs — chromium (e2e, with Japanese fonts for
# the screenshots), etcd 3.4 + etcdctl and haproxy (cluster tests), xmllint (the RFC 3881 audit XML is
# validated against its schema). On a fresh machine where we may install packages (root with apt-get),
# install what is missing; otherwise say how, and let the tests fail with their own clear message.
set -eu
need=""
[ -x /usr/bin/chromium ] || need="$need chromium"
[ -e /usr/share/fonts/opentype/ipafont-gothic ] || need="$need fonts-ipafont-gothic"
[ -x /usr/bin/etcd ] || need="$need etcd-server"
command -v etcdctl >/dev/null 2>&1 || need="$need etcd-client"
[ -x /usr/sbin/haproxy ] || need="$need haproxy"
command -v xmllint >/dev/null 2>&1 || need="$need libxml2-utils"
[ -n "$need" ] || exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "kenshin: installing from Debian for the tests:$need" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086 # the list is meant to split into package names
  apt-get install -y -qq $need >/dev/null
else
  echo "kenshin: the tests need these Debian packages: sudo apt-get install$need" >&2
fi
