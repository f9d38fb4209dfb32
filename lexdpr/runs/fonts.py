"""Find a font with Hangul, so Korean chart labels render instead of empty boxes.

matplotlib's bundled DejaVu Sans has no Hangul. In order of preference we use:

1. a font file named by the caller (`--font`, or the `LEXDPR_HANGUL_FONT` variable the CLI reads);
2. a font shipped in `lexdpr/runs/fonts/` (none is, today: see docs/runs.md);
3. NanumGothic from the `koreanize-matplotlib` wheel, a project dependency. Its TTF is located on disk;
   the package is never imported, since importing it rewrites matplotlib's global settings;
4. a system font matplotlib knows: NanumGothic (Debian `fonts-nanum`), Noto Sans CJK KR
   (`fonts-noto-cjk`), Malgun Gothic (Windows), Apple SD Gothic Neo (macOS), …

NanumGothic is under the SIL Open Font License 1.1.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lexdpr.errors import ConfigError

FONT_ENV = "LEXDPR_HANGUL_FONT"
BUNDLED_DIR = Path(__file__).parent / "fonts"
_WHEEL_PACKAGE, _WHEEL_FONT = "koreanize_matplotlib", "fonts/NanumGothic.ttf"
SYSTEM_FAMILIES = (
    "NanumGothic",
    "NanumBarunGothic",
    "Noto Sans CJK KR",
    "Noto Sans KR",
    "Source Han Sans KR",
    "Malgun Gothic",
    "Apple SD Gothic Neo",
    "AppleGothic",
    "UnDotum",
    "Baekmuk Gulim",
)
HANGUL_PROBE = "가한글학습검증손실"


@dataclass(frozen=True)
class HangulFont:
    path: Path
    family: str
    source: str


def find_hangul_font(explicit: str | os.PathLike[str] | None = None) -> HangulFont | None:
    """The first usable font with Hangul (see the module docstring); None if there is none."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"{path}: font file not found")
        font = _font(path, "given")
        if font is None or missing_glyphs(font.path, HANGUL_PROBE):
            raise ConfigError(f"{path}: not a font with Hangul glyphs")
        return font
    for path, source in _candidates():
        font = _font(path, source)
        if font is not None and not missing_glyphs(font.path, HANGUL_PROBE):
            return font
    return None


def missing_glyphs(font_path: str | os.PathLike[str], text: str) -> list[str]:
    """Characters of `text` (other than whitespace) that the font has no glyph for."""
    from matplotlib.ft2font import FT2Font

    charmap = FT2Font(str(font_path)).get_charmap()
    return sorted({ch for ch in text if not ch.isspace() and ord(ch) not in charmap})


def register(font: HangulFont) -> str:
    """Make the font known to matplotlib (once) and return the family name to ask for."""
    from matplotlib import font_manager

    known = {Path(f.fname).resolve() for f in font_manager.fontManager.ttflist}
    if font.path.resolve() not in known:
        font_manager.fontManager.addfont(str(font.path))
    return font.family


def subset_font(font: HangulFont, text: str) -> bytes:
    """The font cut down to the characters of `text`, as TTF bytes: a few KB instead of megabytes, small
    enough to embed in an HTML report so its Korean text shows on machines without Korean fonts."""
    import io

    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.layout_features = ["*"]
    options.hinting = False
    options.drop_tables += ["TSI0", "TSI1", "TSI2", "TSI3", "TSI5"]  # hinting sources fontTools cannot cut
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text)
    with TTFont(str(font.path)) as ttf:
        subsetter.subset(ttf)
        buffer = io.BytesIO()
        ttf.save(buffer)
    return buffer.getvalue()


def install_hint() -> str:
    return (
        "no font with Hangul found, so Korean text shows as boxes: install the project's dependencies "
        "(koreanize-matplotlib), or `apt-get install fonts-nanum`, or set LEXDPR_HANGUL_FONT to a .ttf/.otf"
    )


def _candidates() -> Iterable[tuple[Path, str]]:
    if BUNDLED_DIR.is_dir():
        for path in sorted(BUNDLED_DIR.iterdir()):
            if path.suffix.lower() in (".ttf", ".otf"):
                yield path, "bundled"
    spec = importlib.util.find_spec(_WHEEL_PACKAGE)  # finds the package without importing it
    for folder in (spec.submodule_search_locations or []) if spec else []:
        yield Path(folder) / _WHEEL_FONT, _WHEEL_PACKAGE
    from matplotlib import font_manager

    by_name = {f.name: Path(f.fname) for f in font_manager.fontManager.ttflist}
    for family in SYSTEM_FAMILIES:
        if family in by_name:
            yield by_name[family], "system"


def _font(path: Path, source: str) -> HangulFont | None:
    if not path.is_file():
        return None
    from matplotlib import font_manager

    try:
        family = font_manager.FontProperties(fname=str(path)).get_name()
    except (OSError, RuntimeError, ValueError):
        return None
    return HangulFont(path, family, source)
