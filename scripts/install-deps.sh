#!/usr/bin/env bash
# Installs the system packages Dialect's runtime and tests use, when missing:
# SIPp (sip-tester) for the end-to-end tests, espeak-ng for text-to-speech,
# sox for prompt generation, pocketsphinx for speech recognition, Chromium and
# its WebDriver for the browser tests of the desk and the wallboard, a
# Chinese font so that their pages (and screenshots) show Chinese text, and
# PostgreSQL, whose initdb and postgres the store's tests start in a temporary
# folder (the packaged server need not run), Python's aiosmtpd, the mail
# server the e-mail notification tests send to, and Kamailio, the SIP front of
# the cluster (scripts/cluster.sh and its test). Installing Kamailio does not
# start it.
set -euo pipefail

packages=(sip-tester espeak-ng libespeak-ng-dev sox libpocketsphinx-dev pocketsphinx-en-us chromium chromium-driver fonts-wqy-zenhei postgresql python3-aiosmtpd kamailio curl)
missing=()
command -v sipp >/dev/null 2>&1 || missing+=(sip-tester)
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng libespeak-ng-dev)
command -v sox >/dev/null 2>&1 || missing+=(sox)
[ -e /usr/include/pocketsphinx/pocketsphinx.h ] || missing+=(libpocketsphinx-dev)
[ -d /usr/share/pocketsphinx/model/en-us ] || missing+=(pocketsphinx-en-us)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium chromium-driver)
fc-list :lang=zh 2>/dev/null | grep -q . || missing+=(fonts-wqy-zenhei)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
[ -d /usr/lib/python3/dist-packages/aiosmtpd ] || missing+=(python3-aiosmtpd)
command -v kamailio >/dev/null 2>&1 || missing+=(kamailio)
command -v curl >/dev/null 2>&1 || missing+=(curl)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  echo "please install these Debian packages as root: ${packages[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
