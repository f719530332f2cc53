#!/usr/bin/env bash
# Measures precision/recall of wit filter's English detection on real translated short texts:
# the compiled gettext catalogues (.mo) shipped in Debian packages. msgid is English, msgstr of
# every other locale is not. The packages are fetched with apt into a cache dir once, then the Go
# test TestLanguageEvalPO (filter/langeval_test.go) reads them.
#
# With --write it instead rebuilds filter/testdata/short-captions.tsv (TestWriteShortCaptions in
# filter/shortcaptions_test.go), the short-caption evaluation set TestLanguageShortCaptions
# checks on every run: the same catalogues plus GTK, gedit and evince UI strings, iso-codes'
# country names, CLDR's emoji names (unicode-cldr-core), the image alt texts of the gnucash-docs
# manuals and Debian's English package descriptions (apt-cache dumpavail).
#
# usage: scripts/langid-eval.sh [--write] [cache-dir]   (default: ${XDG_CACHE_HOME:-$HOME/.cache}/wit/langid)
# env:   LANGID_PACKAGES  packages to fetch (default below), LANGID_MAX_PER_LANG (default 400)
set -euo pipefail

write=0
if [ "${1:-}" = "--write" ]; then
  write=1
  shift
fi
cache="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/wit/langid}"
# iso-codes is left out of the catalogue evaluation: its catalogues are country, language and
# currency names (proper nouns that read the same in every language), not English text.
packages="${LANGID_PACKAGES:-apt dpkg coreutils tar grep sed findutils diffutils util-linux-locales man-db debconf-i18n wget gnupg-l10n}"
if [ "$write" = 1 ]; then
  # The short-caption set adds UI strings, country names (iso_3166-1 only), emoji names, alt
  # texts and package descriptions, in a cache of its own.
  cache="$cache/short-captions"
  packages="$packages iso-codes libgtk-3-common gedit-common evince-common unicode-cldr-core gnucash-docs"
fi
root="$(cd "$(dirname "$0")/.." && pwd)"

mkdir -p "$cache/debs" "$cache/root"
stamp="$cache/.complete-$(echo "$packages" | cksum | cut -d' ' -f1)"
if [ ! -f "$stamp" ]; then
  (
    cd "$cache/debs"
    # apt-get download needs package lists (apt-get update once); nothing is installed.
    if ! apt-get download $packages; then
      echo "langid-eval: apt-get download failed; run 'apt-get update' first" >&2
      exit 1
    fi
  )
  for deb in "$cache"/debs/*.deb; do
    dpkg-deb -x "$deb" "$cache/root"
  done
  apt-cache dumpavail | grep '^Description: ' > "$cache/descriptions.txt" || true
  touch "$stamp"
fi

n=$(find "$cache/root" -name '*.mo' | wc -l)
echo "langid-eval: $n .mo catalogues under $cache/root" >&2
for deb in "$cache"/debs/*.deb; do dpkg-deb -f "$deb" Package Version | paste -sd' '; done >&2

cd "$root"
if [ "$write" = 1 ]; then
  WIT_WRITE_SHORT_CAPTIONS="$root/filter/testdata/short-captions.tsv" WIT_LANGID_DATA="$cache/root" \
    WIT_LANGID_HTML="$cache/root/usr/share/doc/gnucash-docs" \
    WIT_LANGID_CLDR="$cache/root/usr/share/unicode/cldr/common/annotations" \
    WIT_LANGID_DESCRIPTIONS="$cache/descriptions.txt" \
    go test ./filter/ -run 'TestWriteShortCaptions' -count=1 -v -timeout 30m
  exit 0
fi
WIT_LANGID_DATA="$cache/root" LANGID_MAX_PER_LANG="${LANGID_MAX_PER_LANG:-400}" \
  go test ./filter/ -run 'TestLanguageEvalPO' -count=1 -v -timeout 30m
