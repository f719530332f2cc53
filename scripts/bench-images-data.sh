#!/usr/bin/env bash
# bench-images-data.sh — installs real photos/wallpapers for the imgproc benchmarks.
#
# Downloads Debian wallpaper packages with `apt-get download` (no root install, nothing
# is added to the system), unpacks them with `dpkg-deb -x`, and copies every JPEG, PNG
# and WebP under usr/share into a flat directory. Prints that directory on stdout, so:
#
#   export WIT_BENCH_IMAGES_DIR=$(scripts/bench-images-data.sh)
#   go test ./imgproc -run '^$' -bench Pipeline -cpu 1
#
# Packages: desktop-base (Debian's own wallpapers, mostly large PNG renders) plus
# mate-backgrounds (real JPEG photographs). Override with WIT_BENCH_PACKAGES.
# Re-running is cheap: a package already unpacked is skipped.
set -euo pipefail

packages=${WIT_BENCH_PACKAGES:-"desktop-base mate-backgrounds"}
root="${XDG_CACHE_HOME:-$HOME/.cache}/wit-bench"
out="$root/images"
debs="$root/debs"
mkdir -p "$out" "$debs"

log() { echo "bench-images-data: $*" >&2; }

for pkg in $packages; do
  stamp="$debs/$pkg.done"
  if [[ -f "$stamp" ]]; then
    log "$pkg already unpacked"
    continue
  fi
  tmp=$(mktemp -d "$debs/$pkg.XXXXXX")
  if ! (cd "$tmp" && apt-get download "$pkg" >&2); then
    log "apt-get download $pkg failed; running apt-get update and retrying"
    if [[ $(id -u) -eq 0 ]]; then apt-get update >&2; else sudo apt-get update >&2; fi
    (cd "$tmp" && apt-get download "$pkg" >&2)
  fi
  deb=$(ls "$tmp"/*.deb | head -n1)
  dpkg-deb -x "$deb" "$tmp/root"
  n=0
  while IFS= read -r -d '' f; do
    # Flatten: package + path, so files with the same base name do not collide.
    rel=${f#"$tmp/root/usr/share/"}
    name="$pkg--${rel//\//_}"
    # Resolve symlinks to regular files; skip dangling ones.
    if cp -L "$f" "$out/$name.tmp" 2>/dev/null; then
      mv "$out/$name.tmp" "$out/$name"
      n=$((n + 1))
    fi
  done < <(find "$tmp/root/usr/share" \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' -o -iname '*.webp' \) -size +20k -print0)
  rm -rf "$tmp"
  touch "$stamp"
  log "$pkg: $n images"
done

echo "$out"
