"""Card content as web pages: GitHub-flavoured Markdown to HTML, in one page shell.

Card details are GitHub-flavoured Markdown (CDS Hooks C-5), and so is the
documentation page; both are shown in a browser through `markdown_html`, which
renders the CommonMark core plus GFM tables and strikethrough with
markdown-it-py (its own maintainers' port of markdown-it, CommonMark-compliant).
Raw HTML in the Markdown is escaped — card text is patient-derived — except in
`trusted` content, whose only HTML is the anchors the documentation generator
writes.

Every page is standalone: inline CSS readable on a phone and a desktop, no
script, nothing loaded from another site.
"""

from __future__ import annotations

from html import escape

from markdown_it import MarkdownIt

#: One stylesheet for every page (documentation and card gallery).
STYLE = """
:root{color-scheme:light;--ink:#1d2228;--muted:#5b6570;--line:#d5dae0;--info:#1f6fb2;
--warning:#a35c00;--critical:#b3261e;--paper:#fff;--shade:#f4f6f8}
*{box-sizing:border-box}
body{margin:0;font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--ink);background:var(--shade);overflow-wrap:break-word}
main{max-width:64rem;margin:0 auto;padding:1rem;background:var(--paper);min-height:100vh}
h1{font-size:1.6rem;line-height:1.25}h2{font-size:1.3rem;margin-top:2.2rem;
border-bottom:1px solid var(--line)}h3{font-size:1.1rem;margin-top:1.8rem}
h4{font-size:1rem}
a{color:#0b57a4}
code{font-size:.9em;background:var(--shade);padding:.05em .25em;border-radius:3px}
pre{overflow-x:auto;background:var(--shade);padding:.75rem;border-radius:4px}
pre code{background:none;padding:0}
table{border-collapse:collapse;display:block;overflow-x:auto;max-width:100%;margin:1rem 0}
th,td{border:1px solid var(--line);padding:.35rem .5rem;vertical-align:top;text-align:left;
min-width:6rem}
blockquote{border-left:4px solid var(--line);margin:1rem 0;padding:.1rem 1rem;
color:var(--muted)}
:target,h3:has(> a:target){scroll-margin-top:1rem;background:#fff8d6}
nav.toc ul{columns:2 16rem;padding-left:1.2rem}
.card{border:1px solid var(--line);border-left:.45rem solid var(--info);border-radius:6px;
margin:1rem 0;background:var(--paper);box-shadow:0 1px 2px rgba(0,0,0,.06)}
.card.warning{border-left-color:var(--warning)}
.card.critical{border-left-color:var(--critical)}
.card header{padding:.6rem .9rem;display:flex;gap:.6rem;align-items:baseline;flex-wrap:wrap}
.card .indicator{font-size:.75rem;font-weight:700;text-transform:uppercase;color:#fff;
background:var(--info);border-radius:3px;padding:.05rem .4rem;letter-spacing:.03em}
.card.warning .indicator{background:var(--warning)}
.card.critical .indicator{background:var(--critical)}
.card .summary{margin:0;font-weight:600;flex:1 1 16rem}
.card.warning .summary{color:#6b3c00}.card.critical .summary{color:#8c1d18}
.card .detail{padding:0 .9rem;border-top:1px solid var(--line)}
.card .detail h3{font-size:1rem;margin:1rem 0 .4rem}
.card .detail p{margin:.55rem 0}.card .detail ul{margin:.2rem 0 .55rem;padding-left:1.3rem}
.card .detail hr{border:0;border-top:1px solid var(--line);margin:.9rem 0}
.card .suggestions,.card .links{padding:.4rem .9rem;display:flex;flex-wrap:wrap;gap:.5rem}
.card button{font:inherit;font-size:.95rem;padding:.4rem .7rem;border-radius:4px;
border:1px solid #0b57a4;background:#fff;color:#0b57a4;cursor:pointer;text-align:left}
.card button.recommended{background:#0b57a4;color:#fff}
.card .source,.card .meta{padding:0 .9rem .6rem;margin:0;font-size:.85rem;color:var(--muted)}
.example{margin-top:2.5rem}
.example > p{color:var(--muted)}
@media (max-width:40rem){main{padding:.75rem}h1{font-size:1.35rem}body{font-size:16px}}
"""

_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
_TRUSTED_MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def markdown_html(markdown: str, *, trusted: bool = False) -> str:
    """GitHub-flavoured Markdown as an HTML fragment; raw HTML escaped unless `trusted`."""
    html: str = (_TRUSTED_MARKDOWN if trusted else _MARKDOWN).render(markdown)
    return html


def html_page(title: str, body: str) -> str:
    """A standalone HTML document around a body fragment."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}</main>\n</body>\n</html>\n"
    )
