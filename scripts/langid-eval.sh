#!/usr/bin/env bash
# Measures precision/recall of wit filter's English detection on real translated short texts:
# the compiled gettext catalogues (.mo) shipped in Debian packages. msgid is English, msgstr of
# every other locale is not. The packages are fetched with apt into a cache dir once, then the Go
# test TestLanguageEvalPO (filter/langeval_test.go) reads them.
#
# usage: scripts/langid-eval.sh [cache-dir]   (default: ${XDG_CACHE_HOME:-$HOME/.cache}/wit/langid)
# env:   LANGID_PACKAGES  packages to fetch (default below), LANGID_MAX_PER_LANG (default 400)
set -euo pipefail

cache="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/wit/langid}"
# iso-codes is left out: its catalogues are country, language and currency names (proper nouns
# that read the same in every language), not English text.
packages="${LANGID_PACKAGES:-apt dpkg coreutils tar grep sed findutils diffutils util-linux-locales man-db debconf-i18n wget gnupg-l10n}"
root="$(cd "$(dirname "$0")/.." && pwd)"

mkdir -p "$cache/debs" "$cache/root"
if [ ! -f "$cache/.complete" ]; then
  (
    cd "$cache/debs"
    # apt-get download refuses nothing here; it only needs package lists (apt-get update once).
    if ! apt-get download $packages; then
      echo "langid-eval: apt-get download failed; run 'apt-get update' first" >&2
      exit 1
    fi
  )
  for deb in "$cache"/debs/*.deb; do
    dpkg-deb -x "$deb" "$cache/root"
  done
  touch "$cache/.complete"
fi

n=$(find "$cache/root" -name '*.mo' | wc -l)
echo "langid-eval: $n .mo catalogues under $cache/root" >&2

cd "$root"
WIT_LANGID_DATA="$cache/root" LANGID_MAX_PER_LANG="${LANGID_MAX_PER_LANG:-400}" \
  go test ./filter/ -run 'TestLanguageEvalPO' -count=1 -v -timeout 30m
