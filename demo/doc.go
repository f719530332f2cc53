// Package demo runs wit's whole job on an embedded sample website: `wit demo`.
//
// # The site
//
// site/ (embedded with go:embed) holds 300 emoji concepts, each drawn in two styles as 64×64
// PNG — Google Noto (img/noto, Apache-2.0) and Microsoft Fluent flat (img/fluent, MIT) — and
// concepts.tsv with their Unicode CLDR names and keywords in English, French and German
// (Unicode licence). scripts/build-demo-site.sh rebuilds it from ../shared/data/emoji and the npm
// package cldr-annotations-full; ATTRIBUTION and the LICENSE-* files travel with the images.
//
// Site (an http.Handler) generates the pages at serve time from concepts.tsv and a template, so
// the repository holds no HTML: language homes, group galleries (thumbnails whose alt text
// repeats the concept pages' captions, which dedup must drop), and one page per concept and
// language with og:image + og:image:alt, a <figure> with srcset and <figcaption> (name and
// keywords), and a lazy-loaded <img data-src> of the other style. robots.txt disallows
// /members/ (pages there must never be requested); /en/misc.html holds junk captions (a file
// name, "logo", a bare URL) and three broken images: a truncated PNG, an HTML page served as
// image/png, and a 404.
//
// # The run (Run)
//
//	Serve(site) on 127.0.0.1:0
//	  → build.Run: crawl → filter (default query list, English, dedup, online balancing with a
//	    small t) → fetch into Out/data/shards
//	  → splitByStyle: Noto samples → Out/train-shards, Fluent samples → Out/heldout-shards
//	    (the held-out style is never trained on)
//	  → train.Trainer on the Noto samples (clip-tiny, embedded copy of configs/clip-tiny.yaml;
//	    crop 0.5–1, colour jitter and greyscale as chosen by scripts/emoji-experiment.sh):
//	    a few calibration steps measure this machine's pace, then the run resumes from its
//	    checkpoint with the step count that fits --train-time, so the cosine schedule completes
//	  → evaluation with inference.LoadCheckpoint and package eval: text↔image retrieval among the
//	    concepts (one image per concept, the CLDR name as its text) on the held-out style and,
//	    for comparison, on the training style; zero-shot classification of the held-out images
//	    into the emoji groups with prompt ensembling (eval.EmojiTemplates); each beside chance
//	  → Report: printed, and written to Out/demo-report.json
//
// Out is replaced on every run (the site's port changes, so an earlier run's state cannot be
// resumed); a non-empty directory that is not an earlier demo's is refused.
package demo
