"""Self-contained HTML pages: inline CSS and inline SVG charts, nothing fetched when the file is opened.

A report is mailed around, opened from a PVC or an S3 console, or on a machine without internet, so it
references no script, stylesheet, font or image outside itself. Text is escaped; charts come from
`charts.to_svg` (text drawn as paths, so Korean shows without fonts on the reader's side). The Hangul font,
cut down to the characters the page's text uses (~10 KB), is embedded as a `data:` URL, so the tables'
Korean shows on a reader's machine that has no Korean font either.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from lexdpr.runs.fonts import HangulFont, subset_font

_EMBEDDED_FAMILY = "LexDprHangul"

_CSS = """
body { font-family: "LexDprHangul", system-ui, -apple-system, "Segoe UI", "Noto Sans KR", "Malgun Gothic", sans-serif;
       margin: 2rem auto; max-width: 1180px; color: #222; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .9rem; }
th, td { border: 1px solid #ddd; padding: .25rem .55rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #1a7f37; font-weight: 600; } .fail { color: #c62828; font-weight: 600; }
.skip { color: #777; } .note { color: #555; font-size: .9rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 1rem; }
.charts figure { margin: 0; } .charts svg { width: 100%; height: auto; }
code { background: #f4f4f4; padding: 0 .2rem; }
"""


@dataclass(frozen=True)
class Cell:
    """A table cell: text, and a CSS class (`num`, `pass`, `fail`, `skip`) or none."""

    text: str
    css: str = ""


def page(title: str, sections: Iterable[str], font: HangulFont | None = None) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = f'<h1>{esc(title)}</h1>\n<p class="note">made by lex-dpr at {stamp}</p>\n' + "\n".join(sections)
    css = _font_face(font, visible_text(body)) + _CSS
    return (
        '<!DOCTYPE html>\n<html lang="ko">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{esc(title)}</title>\n<style>{css}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def visible_text(markup: str) -> str:
    """The text a reader sees outside the charts (which carry their own glyphs as paths)."""
    without_charts = re.sub(r"<svg\b.*?</svg>", " ", markup, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", " ", without_charts))


def section(heading: str, *parts: str) -> str:
    return f"<section>\n<h2>{esc(heading)}</h2>\n" + "\n".join(parts) + "\n</section>"


def table(headers: Sequence[str], rows: Iterable[Sequence[Cell | str]]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    lines = []
    for row in rows:
        cells = [c if isinstance(c, Cell) else Cell(str(c)) for c in row]
        lines.append("<tr>" + "".join(_td(c) for c in cells) + "</tr>")
    return f"<table>\n<tr>{head}</tr>\n" + "\n".join(lines) + "\n</table>"


def paragraph(text: str, css: str = "") -> str:
    klass = f' class="{css}"' if css else ""
    return f"<p{klass}>{esc(text)}</p>"


def charts(svgs: Iterable[tuple[str, str]]) -> str:
    """A grid of (caption, inline svg) figures."""
    figures = [f'<figure aria-label="{esc(caption)}">\n{svg}\n</figure>' for caption, svg in svgs]
    return '<div class="charts">\n' + "\n".join(figures) + "\n</div>"


def _font_face(font: HangulFont | None, text: str) -> str:
    if font is None or not re.search("[\u3131-\u318e\uac00-\ud7a3]", text):
        return ""
    try:
        data = subset_font(font, text)
    except Exception:  # a font fontTools cannot cut only costs the embedding: readers' fonts take over
        return ""
    encoded = base64.b64encode(data).decode("ascii")
    return f'@font-face {{ font-family: "{_EMBEDDED_FAMILY}"; src: url(data:font/ttf;base64,{encoded}); }}\n'


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _td(cell: Cell) -> str:
    klass = f' class="{cell.css}"' if cell.css else ""
    return f"<td{klass}>{esc(cell.text)}</td>"
