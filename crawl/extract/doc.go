// Package extract finds image–text candidates and links in HTML pages: the
// extraction step of `wit crawl`.
//
// # Data flow
//
// The crawler hands Extract a fetched page (URL, body, Content-Type header).
// Extract
//
//  1. checks the body is HTML (IsHTML: the Content-Type, or a sniff of the body
//     when the type is missing or generic); anything else is an error wrapping
//     ErrNotHTML;
//  2. decodes it to UTF-8: a BOM, the header's charset, a <meta charset> /
//     http-equiv (or XML) declaration, else windows-1252 (golang.org/x/net/html/charset);
//     a body that is entirely valid UTF-8 is taken as UTF-8 whatever 8-bit
//     charset it claims;
//  3. parses it once with x/net/html (the tree goquery wraps), with scripting
//     off so <noscript> fallbacks are seen, and walks the tree once, without
//     recursion, recording raw references; documents nested deeper than the
//     parser's 512-element limit are read with the streaming tokenizer instead,
//     so they still give their images;
//  4. resolves the references against <base href> (or the page URL), keeps
//     http(s) only and normalises them, cleans the caption text and builds
//     the Page.
//
// FromDocument runs steps 3–4 on a goquery document already parsed (colly's
// e.DOM), so a colly-based crawler does not parse a page twice.
//
// # Candidates
//
// An image URL comes from <img src>, the largest srcset candidate (by width
// descriptor, else density), lazy-loading attributes (data-src,
// data-srcset, data-lazy-src, data-original) when src is missing or a
// placeholder (data: URI, spacer or 1×1 image), and <picture><source srcset>
// (the largest; AVIF/JXL/SVG/HEIC sources are passed over). Its captions, in
// this order, are: alt; title / data-image-title; the caption of the innermost
// caption container around it; aria-label; and the text of the elements its
// aria-describedby names (found by id anywhere in the page; tree path only).
// og:image (secure_url preferred) with og:image:alt and twitter:image with
// twitter:image:alt give Source "og". One Candidate is made per distinct
// (image URL, caption); the first source wins, so an alt equal to the title is
// kept as "alt". Empty captions give no candidate. Candidates are in document
// order, og/twitter first.
//
// Caption containers and the Source their caption gets:
//
//	<figure> … <figcaption>                                   figcaption
//	figure[typeof~=mw:File/…] … figcaption,                   mediawiki
//	div.thumb … div.thumbcaption, li.gallerybox … div.gallerytext
//	.wp-caption … .wp-caption-text, dl/figure.gallery-item …  wordpress
//	div.figure, div.informalfigure, div.mediaobject …         doc_figure
//	  p.title (DocBook; its "Figure 2.1." label removed), div.caption,
//	  p.caption (Docutils), span.caption-text (Sphinx)
//
// A container's caption is its first caption element (a DocBook figure has two:
// title and caption); a div of the same family inside a container (a figure's
// mediaobject, a gallery box's thumb) belongs to it. Permalink anchors
// (a.headerlink) and Sphinx's figure numbers (span.caption-number) are not
// caption text.
//
// Caption text has entities decoded (by the parser), white space (including
// no-break spaces, tabs, newlines) collapsed and trimmed, control and
// invisible format characters and invalid UTF-8 removed, and is cut to
// MaxCaptionRunes runes.
//
// # Links and robots
//
// Links come from <a href> and <area href> without rel=nofollow; they are
// absolute, http(s), normalised, fragment-free and unique, and exclude the
// page itself. <meta name=robots> noindex (or none) sets Page.NoIndex and
// yields no candidates; nofollow (or none) sets Page.NoFollow and yields no
// links; noimageindex yields no candidates. The X-Robots-Tag header is the
// caller's to honour.
//
// # URL normalisation
//
// Output URLs are in internal/urlnorm's canonical form: lower-case scheme and
// host (IDN hosts to punycode), default port and fragment dropped, dot segments
// removed, %-escapes normalised (unreserved characters decoded, hex
// upper-cased, characters that must be escaped escaped), empty path "/".
// Backslashes are read as slashes, as browsers do. The host rules, and which
// hosts are invalid, are urlnorm.Host's: a reference to an invalid host is
// dropped. URLs with user info are dropped too. The resolution itself is done
// here, on strings, so that a relative link costs no url.Parse.
//
// # Limits
//
// MaxCandidates and MaxLinks cap one page's output. Extract keeps no state
// between calls and is safe for concurrent use; its scratch space is pooled.
package extract
