#!/usr/bin/env bash
# bench-extract-data.sh — installs real HTML documentation pages (with images and
# alt text) for the crawl/extract benchmarks and prints the directory holding them.
#
#   dir=$(scripts/bench-extract-data.sh)
#   WIT_BENCH_HTML_DIR=$dir go test -run '^$' -bench 'Extract|BareParse' ./crawl/extract/
#
# The package (default gnucash-docs; override with WIT_BENCH_HTML_PKG) is fetched with
# `apt-get download` and unpacked with `dpkg-deb -x` into a cache directory, so nothing
# is installed system-wide. A second run reuses the cache.
set -euo pipefail

pkg="${WIT_BENCH_HTML_PKG:-gnucash-docs}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/wit-bench"
root="$cache/$pkg"
out="$cache/html-$pkg"

log() { echo "bench-extract-data: $*" >&2; }

if [ -f "$out/.complete" ]; then
	echo "$out"
	exit 0
fi

mkdir -p "$cache"
tmp=$(mktemp -d "$cache/dl.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

log "downloading $pkg"
if ! (cd "$tmp" && apt-get download "$pkg" >&2); then
	log "download failed; running apt-get update and retrying"
	apt-get update >&2 || true
	(cd "$tmp" && apt-get download "$pkg" >&2)
fi

deb=$(ls "$tmp"/*.deb | head -n 1)
rm -rf "$root.tmp" && mkdir -p "$root.tmp"
dpkg-deb -x "$deb" "$root.tmp"
rm -rf "$root" && mv "$root.tmp" "$root"

# Collect every page (all languages the package ships) into one flat directory of
# .html files, names made unique by their path; the unpacked tree is then removed.
rm -rf "$out.tmp" && mkdir -p "$out.tmp"
n=0
while IFS= read -r -d '' f; do
	rel=${f#"$root"/}
	cp "$f" "$out.tmp/$(printf '%s' "$rel" | tr '/' '_')"
	n=$((n + 1))
done < <(find "$root" -type f \( -name '*.html' -o -name '*.htm' -o -name '*.xhtml' \) -print0)
rm -rf "$root"
if [ "$n" -eq 0 ]; then
	log "no HTML pages found in $pkg"
	exit 1
fi
touch "$out.tmp/.complete"
rm -rf "$out" && mv "$out.tmp" "$out"
log "$n pages from $pkg in $out"
echo "$out"
