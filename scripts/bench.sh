#!/usr/bin/env bash
# Runs every hot-path benchmark and prints one table.
#
#   scripts/bench.sh            # all benchmarks
#   BENCHTIME=3x scripts/bench.sh
#
# Real-data benchmarks need data that is installed from Debian packages by the scripts below
# (HTML documentation, wallpapers, .po files); each is skipped when its data cannot be installed.
# Figures that compare against a baseline (x/net/html parse, stdlib image pipeline, bare lingua)
# are measured in the same run, so read the ratios: these machines are noisy.
set -uo pipefail
cd "$(dirname "$0")/.."

BENCHTIME=${BENCHTIME:-1s}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

data() { # data SCRIPT VAR: runs a data script and exports its printed directory as VAR
	local script=$1 var=$2
	if [ -z "${!var:-}" ] && [ -x "$script" ]; then
		local dir
		dir=$("$script" 2>/dev/null | tail -n 1) || true
		if [ -n "$dir" ] && [ -d "$dir" ]; then export "$var=$dir"; fi
	fi
	echo "# $var=${!var:-<not installed: benchmarks that need it are skipped>}" >&2
}
data scripts/bench-extract-data.sh WIT_BENCH_HTML_DIR
data scripts/bench-images-data.sh WIT_BENCH_IMAGES_DIR
# Translated .po strings for the filter's caption mix: installed (and evaluated) by
# scripts/langid-eval.sh; used here only when already installed, since that script also runs
# the whole language-ID evaluation.
langid="${XDG_CACHE_HOME:-$HOME/.cache}/wit/langid/root"
if [ -z "${WIT_LANGID_DATA:-}" ] && [ -d "$langid" ]; then export WIT_LANGID_DATA="$langid"; fi
echo "# WIT_LANGID_DATA=${WIT_LANGID_DATA:-<not installed: the filter benchmark uses its testdata mix>}" >&2

pkgs=$(go list ./... | grep -v /cmd/)
for p in $pkgs; do
	# -count=1: never cached; GOMAXPROCS unchanged: issue targets are for this 2-core machine,
	# per-core figures are reported by the benchmarks themselves where it matters.
	go test -run '^$' -bench . -benchmem -benchtime "$BENCHTIME" -count 1 "$p" 2>&1 | tee -a "$out" >&2
done

echo
echo "== wit benchmarks ($(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)) =="
awk '
/^pkg: / { pkg = $2; sub(/.*\/wit\//, "", pkg) }
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	extra = ""
	for (i = 3; i < NF; i += 2) extra = extra sprintf("%s %s  ", $i, $(i+1))
	printf "%-14s %-44s %s\n", pkg, name, extra
}' "$out"
