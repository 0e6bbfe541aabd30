"""Text from the images (names, IDs, descriptions, file names, header labels) as the PDF prints it.

A header or a file name is anyone's text: matplotlib reads a pair of `$` as mathtext (`$a^^b$` failed the
whole PDF), DejaVu Sans has no CJK glyphs (a Chinese name printed as boxes), and nothing bounds a name's
length (10,000 characters ran off the page). So every page is drawn with page_style(): mathtext off, and
the installed fonts that have CJK glyphs behind DejaVu Sans as fallbacks (per glyph). Each data value is
put through fit(): on one line, elided in the middle to the width it has, measured in the fonts it is drawn
with; a character no installed font has is spelled as its code point (U+5F20), which the page then says
(UNPRINTABLE_NOTE). Paragraphs are wrapped as measured too (wrap)."""

import logging
import textwrap
import unicodedata
from functools import cache, partial
from pathlib import Path

BASE_FONT = "DejaVu Sans"
CJK_PROBES = "中あ한"  # a Han ideograph, a kana, a Hangul syllable
ELLIPSIS = "…"
UNPRINTABLE_NOTE = "Characters shown as U+ codes: no font on this computer has them."
POINTS_PER_INCH = 72
CHARACTER_WIDTH_EM = 0.55  # DejaVu Sans's mean advance: the first guess of a line's characters


@cache
def fallback_fonts() -> tuple[str, ...]:
    """The families of the installed fonts that have CJK glyphs, for what DejaVu Sans lacks. Matplotlib's
    font list is a cache that may predate a font installed since: the system's fonts are added to it."""
    import matplotlib
    from matplotlib import font_manager

    manager = font_manager.fontManager
    known = {entry.fname for entry in manager.ttflist}
    for path in font_manager.findSystemFonts():
        if path not in known:
            try:
                manager.addfont(path)
            except (OSError, RuntimeError, ValueError):  # a font FreeType cannot read is no fallback
                continue
    own = Path(matplotlib.get_data_path())  # DejaVu, STIX, Computer Modern, and Last Resort's placeholder boxes
    families, files = [], set()
    for entry in sorted(manager.ttflist, key=lambda entry: entry.name):
        if entry.fname not in files and not Path(entry.fname).is_relative_to(own) and \
                all(ord(character) in _charmap(entry.fname) for character in CJK_PROBES):
            families.append(entry.name)
            files.add(entry.fname)
    if families:
        logging.getLogger("matplotlib.font_manager").addFilter(partial(_quiet_weight_fallback, tuple(families)))
    return tuple(families)


def _quiet_weight_fallback(families: tuple[str, ...], record: logging.LogRecord) -> bool:
    """Bold text falls back to a CJK font's only weight, which matplotlib would announce on stderr for
    every size drawn: that message alone is dropped."""
    message = record.getMessage()
    return not (message.startswith("findfont: Failed to find font weight") and
                any(family in message for family in families))


@cache
def _charmap(path: str) -> frozenset[int]:
    from matplotlib.ft2font import FT2Font

    return frozenset(FT2Font(path).get_charmap())


@cache
def _printable_characters() -> frozenset[int]:
    from matplotlib import font_manager

    manager = font_manager.fontManager
    paths = [manager.findfont(family, fallback_to_default=False) for family in (BASE_FONT, *fallback_fonts())]
    return frozenset().union(*map(_charmap, paths))


def font_families() -> list[str]:
    return [BASE_FONT, *fallback_fonts()]


def page_style() -> dict:
    """The rcParams every page is drawn with (matplotlib.rc_context)."""
    return {"text.parse_math": False, "font.family": font_families()}


def unprintable(text: str) -> bool:
    """Whether `text` has a character that no installed font has."""
    printable = _printable_characters()
    return any(ord(character) not in printable for character in _one_line(text))


def fit(text: str, width: float, fontsize: float) -> str:
    """`text` on one line, its unprintable characters spelled as U+ codes, elided in the middle (the start
    and the end are kept) to `width` inches at `fontsize` points."""
    text = _spelled(_one_line(text))
    room = width * POINTS_PER_INCH
    if _width(text, fontsize) <= room:
        return text
    low, high = 0, len(text)  # the most characters kept that fit, beside the ellipsis
    while low < high:
        kept = (low + high + 1) // 2
        if _width(_elided(text, kept), fontsize) <= room:
            low = kept
        else:
            high = kept - 1
    return _elided(text, low)


def wrap(text: str, width: float, fontsize: float, weight: str = "normal") -> list[str]:
    """`text` wrapped to lines of at most `width` inches at `fontsize` points, as measured (a line of wide
    letters holds fewer); a word longer than a line is broken."""
    room = width * POINTS_PER_INCH
    characters = max(1, int(room / (fontsize * CHARACTER_WIDTH_EM)))
    while True:
        lines = textwrap.wrap(text, characters, break_on_hyphens=False)
        if characters == 1 or all(_width(line, fontsize, weight) <= room for line in lines):
            return lines
        characters = max(1, int(characters * 0.9))


def _one_line(text: str) -> str:
    return "".join(" " if unicodedata.category(character) in ("Cc", "Zl", "Zp") else character
                   for character in text)


def _spelled(text: str) -> str:
    printable = _printable_characters()
    return "".join(character if ord(character) in printable else f"U+{ord(character):04X}" for character in text)


def _elided(text: str, kept: int) -> str:
    head = (kept + 1) // 2
    return f"{text[:head]}{ELLIPSIS}{text[len(text) - (kept - head):]}"


def _width(text: str, fontsize: float, weight: str = "normal") -> float:
    """Points, as the PDF lays `text` out."""
    from matplotlib.font_manager import FontProperties

    font = FontProperties(family=font_families(), size=fontsize, weight=weight)
    width, _, _ = _renderer().get_text_width_height_descent(text, font, ismath=False)
    return width


@cache
def _renderer():
    from matplotlib.backends.backend_agg import RendererAgg

    return RendererAgg(1, 1, POINTS_PER_INCH)  # at 72 dpi a pixel is a point
