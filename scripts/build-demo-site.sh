#!/usr/bin/env bash
# Rebuilds demo/site/ (the sample website `wit demo` serves) from the multi-style emoji set:
# 300 concepts x 2 styles (Noto, Apache-2.0; Fluent flat, MIT) as 64x64 PNG, and
# demo/site/concepts.tsv with the English CLDR names and keywords plus the French and German
# CLDR names and keywords (npm package cldr-annotations-full, Unicode licence).
#
# Usage: scripts/build-demo-site.sh [EMOJI_DIR]   (default ../shared/data/emoji)
# Needs node and npm (npm only downloads the annotations package; nothing is installed).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
emoji=${1:-$root/../shared/data/emoji}
site=$root/demo/site
n=${DEMO_CONCEPTS:-300}
cldr_version=48.2.0

[ -f "$emoji/concepts.tsv" ] || { echo "no emoji set at $emoji (see ../shared/README.md)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "cldr-annotations-full@$cldr_version" >/dev/null)
tar -xzf "$tmp"/cldr-annotations-full-$cldr_version.tgz -C "$tmp" \
  package/annotations/fr/annotations.json package/annotations/de/annotations.json package/LICENSE

rm -rf "$site/img"
mkdir -p "$site/img/noto" "$site/img/fluent"
EMOJI="$emoji" TMP="$tmp" SITE="$site" N="$n" node - <<'JS'
const fs = require('fs');
const path = require('path');
const {EMOJI, TMP, SITE, N} = process.env;
const ann = l => JSON.parse(fs.readFileSync(`${TMP}/package/annotations/${l}/annotations.json`)).annotations.annotations;
const fr = ann('fr'), de = ann('de');
const look = (a, e) => a[e] || a[e.replace(/\uFE0F/g, '')];
const clean = s => s.replace(/[\t\n|]/g, ' ').trim();
const rows = fs.readFileSync(`${EMOJI}/concepts.tsv`, 'utf8').trim().split('\n').slice(1).map(l => l.split('\t'));
const ok = rows.filter(([hex, e, name, kw, group]) => {
  if (name.includes(':') || group === 'flags' || group === 'group') return false; // "keycap: 0", flags
  if (!fs.existsSync(`${EMOJI}/noto/${hex}.png`) || !fs.existsSync(`${EMOJI}/fluent-flat/${hex}.png`)) return false;
  const f = look(fr, e), d = look(de, e);
  return f && f.tts && d && d.tts;
});
// Evenly spaced over the (group-ordered) list, so every group is represented.
const n = Math.min(Number(N), ok.length), picked = [];
for (let i = 0; i < n; i++) picked.push(ok[Math.floor(i * ok.length / n)]);
const out = ['hex\temoji\tgroup\tsubgroup\tname\tkeywords\tname_fr\tkeywords_fr\tname_de\tkeywords_de'];
for (const [hex, e, name, kw, group, sub] of picked) {
  const f = look(fr, e), d = look(de, e);
  out.push([hex, e, group, sub, clean(name), kw,
    clean(f.tts[0]), (f.default || []).map(clean).join('|'),
    clean(d.tts[0]), (d.default || []).map(clean).join('|')].join('\t'));
  fs.copyFileSync(`${EMOJI}/noto/${hex}.png`, `${SITE}/img/noto/${hex}.png`);
  fs.copyFileSync(`${EMOJI}/fluent-flat/${hex}.png`, `${SITE}/img/fluent/${hex}.png`);
}
fs.writeFileSync(`${SITE}/concepts.tsv`, out.join('\n') + '\n');
console.log(`${picked.length} concepts of ${ok.length} eligible`);
JS
cp "$tmp/package/LICENSE" "$site/LICENSE-CLDR.txt"
du -sh "$site"
