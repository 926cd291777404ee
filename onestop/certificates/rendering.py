"""Rendering certificates to PDF with WeasyPrint: A4, Chinese typography, the CJK font embedded as a subset.

Three things here are not WeasyPrint defaults, each for a measured reason:

* HarfBuzz subsetting (`libharfbuzz-subset0`) must be present: without it WeasyPrint falls back to
  fontTools and a one-page Chinese certificate takes 10-20 s instead of ~0.05 s. Checked at start-up.
* WeasyPrint keeps the glyph ids of the original font when it subsets (RETAIN_GIDS), so a CJK subset
  still carries metrics for ~60,000 glyphs: a one-page certificate weighed 220 KB. Noto CJK is a
  CID-keyed CFF font whose CIDs equal its glyph ids, and PDF maps CIDs through the CFF charset, so we
  subset compactly (charset keeps the original CIDs) and embed the bare CFF program (CIDFontType0C, the
  format every reader has handled since Acrobat 4): 25-40 KB, and 45 ms less work per certificate.
* Every character printed is checked against the font's character map first: a missing glyph is an
  error naming the character, never a silent box (and a missing glyph also makes Pango's fallback
  search slow).
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from onestop.config import PROJECT_ROOT

log = logging.getLogger(__name__)

# The faces the print templates use (fonts-noto-cjk): Sans (黑体-like) for the text, Serif Bold (宋体-like)
# for titles and the seal. Two faces only: every face is one more embedded subset.
FONT_FACES = [(Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"), "Noto Sans CJK SC"),
              (Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc"), "Noto Serif CJK SC")]
FONT_FAMILY = "Noto Sans CJK SC / Noto Serif CJK SC"
# Templates may load files from here only (no network, no other path).
STATIC_ROOT = PROJECT_ROOT / "static" / "certificates"

HARFBUZZ_MISSING = (
    "libharfbuzz-subset0 is not installed: WeasyPrint would subset fonts with fontTools and a Chinese "
    "certificate would take 10-20 s to render. Install it (Debian/Ubuntu: apt-get install "
    "libharfbuzz-subset0, or run `make run`, which installs system packages)."
)


class RenderError(Exception):
    """A certificate cannot be rendered as asked; the message says why (shown to staff)."""


class MissingGlyphs(RenderError):
    def __init__(self, characters: Iterable[str]) -> None:
        self.characters = sorted(set(characters))
        listed = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in self.characters)
        super().__init__(f"the certificate fonts ({FONT_FAMILY}) have no glyph for {listed}")


def harfbuzz_subset_available() -> bool:
    from weasyprint.text.ffi import harfbuzz, harfbuzz_subset

    return bool(harfbuzz_subset) and bool(harfbuzz.hb_version_atleast(4, 1, 0))


def check_environment() -> list[str]:
    """Problems that stop certificates from rendering well, in words an operator can act on."""
    problems = []
    try:
        if not harfbuzz_subset_available():
            problems.append(HARFBUZZ_MISSING)
    except OSError as exc:  # Pango itself is missing
        problems.append(f"WeasyPrint cannot load Pango ({exc}); install libpango-1.0-0 and libpangoft2-1.0-0")
    for path, _family in FONT_FACES:
        if not path.exists():
            problems.append(f"the Chinese font {path} is missing; install fonts-noto-cjk and run fc-cache -f")
    return problems


@lru_cache(maxsize=1)
def font_coverage() -> frozenset[int]:
    """The code points the certificate font can draw (every face of it must have them)."""
    from fontTools.ttLib import TTCollection

    covered: set[int] | None = None
    for path, family in FONT_FACES:
        collection = TTCollection(str(path), lazy=True)
        face = next(f for f in collection.fonts if family in f["name"].getDebugName(1))
        cmap = set(face.getBestCmap())
        covered = cmap if covered is None else covered & cmap
    return frozenset(covered or ())


def check_glyphs(texts: Iterable[str]) -> None:
    """Raise MissingGlyphs naming every printed character the font cannot draw."""
    covered = font_coverage()
    missing = {c for text in texts for c in text if not c.isspace() and ord(c) not in covered}
    if missing:
        raise MissingGlyphs(missing)


# -- WeasyPrint: one font configuration per process, a fetcher that only serves our static files ---------

_lock = threading.Lock()
_font_config: Any = None
_stylesheet: Any = None
_compact = contextvars.ContextVar("onestop_compact_fonts", default=False)


def _weasyprint() -> Any:
    global _font_config, _stylesheet
    import weasyprint
    from weasyprint.text.fonts import FontConfiguration

    with _lock:
        if _font_config is None:
            _install_compact_subsetting()
            _font_config = FontConfiguration()
            # The shared page style, parsed once (about a tenth of a certificate's rendering time).
            _stylesheet = weasyprint.CSS(filename=str(STATIC_ROOT / "print.css"), font_config=_font_config,
                                         url_fetcher=_fetcher())
    return weasyprint


def warm_up() -> None:
    """Load WeasyPrint, both faces (Pango and HarfBuzz open them at the first document that uses them,
    ~0.4 s) and the coverage map now: a worker does it once, before forking a process per job."""
    _weasyprint()
    font_coverage()
    render_pdf('<html lang="zh-CN"><body><h1>证照</h1><p>电子证照 2026</p></body></html>', title="warm-up")
    # pyHanko and its cryptography stack take a few hundred milliseconds to import.
    import pyhanko.pdf_utils.incremental_writer  # noqa: F401
    import pyhanko.sign.signers.pdf_signer  # noqa: F401
    import pyhanko.sign.validation.pdf_embedded  # noqa: F401
    import pyhanko.stamp  # noqa: F401


def _fetcher_class() -> Any:
    from weasyprint.urls import FatalURLFetchingError, URLFetcher

    class StaticOnlyFetcher(URLFetcher):  # type: ignore[misc]
        """Certificates are printed from plain values and our own static files: no network, no other
        file. A template that asks for anything else fails loudly instead of rendering without it."""

        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("data:"):
                return super().fetch(url, headers)
            if url.startswith("file://"):
                path = Path(url.removeprefix("file://").split("?", 1)[0]).resolve()
                if path.is_relative_to(STATIC_ROOT) and path.is_file():
                    return super().fetch(url, headers)
            raise FatalURLFetchingError(f"certificates may not load {url!r}")

    return StaticOnlyFetcher


@lru_cache(maxsize=1)
def _fetcher() -> Any:
    return _fetcher_class()(allowed_protocols=("file", "data"), allow_redirects=False, fail_on_errors=True)


def render_pdf(html: str, *, title: str, metadata: dict[str, str] | None = None) -> bytes:
    """HTML (already filled with plain values and checked for glyphs) to PDF bytes."""
    weasyprint = _weasyprint()
    token = _compact.set(True)
    try:
        document = weasyprint.HTML(string=html, base_url=str(STATIC_ROOT) + "/", url_fetcher=_fetcher())
        return bytes(document.write_pdf(font_config=_font_config, stylesheets=[_stylesheet],
                                        finisher=_embed_bare_cff))
    finally:
        _compact.reset(token)


# -- compact font subsetting ------------------------------------------------------------------------------

_COMPACT_MARK = "_onestop_bare_cff"


class _FacePlaceholder(bytes):
    """Stands in for a CID-keyed CFF face's full data (10-20 MB, which WeasyPrint would copy for every
    font of every document and then subset away): starts like an OpenType file, so WeasyPrint treats it
    as one, and the finisher replaces it with the compact program. One object per font (matched by id)."""


def _install_compact_subsetting() -> None:
    """Replace WeasyPrint's font data copy and subsetting while a certificate renders (and only then)."""
    from weasyprint.pdf import fonts

    if getattr(fonts.Font, "_onestop_patched", False):
        return
    original_subset = fonts.Font.subset
    original_data = fonts.get_hb_object_data

    def face_data(hb_object: Any, ot_color: Any = None, glyph: Any = None) -> Any:
        if _compact.get() and ot_color is None and glyph is None and _face_is_cid_cff(hb_object):
            return _FacePlaceholder(b"OTTO")
        return original_data(hb_object, ot_color, glyph)

    def subset(self: Any, to_unicode: dict[int, str], hinting: bool) -> None:
        if _compact.get() and to_unicode and isinstance(self.file_content, _FacePlaceholder):
            cff = _compact_cff(self.hb_face, set(to_unicode))
            if cff is not None:
                setattr(self, _COMPACT_MARK, cff)
                return
        original_subset(self, to_unicode, hinting)

    fonts.get_hb_object_data = face_data
    fonts.Font.subset = subset
    fonts.Font._onestop_patched = True


def _face_is_cid_cff(hb_face: Any) -> bool:
    from weasyprint.text.ffi import ffi, harfbuzz

    blob = harfbuzz.hb_face_reference_table(hb_face, harfbuzz.hb_tag_from_string(b"CFF ", -1))
    try:
        return _is_cid_keyed(_blob_bytes(harfbuzz, ffi, blob, limit=4096))
    finally:
        harfbuzz.hb_blob_destroy(blob)


def _compact_cff(hb_face: Any, glyphs: set[int]) -> bytes | None:
    """The CFF table of a subset holding only `glyphs`, glyph ids not kept (the CID-keyed charset keeps
    the original CIDs); None if HarfBuzz cannot subset the face."""
    from weasyprint.text.ffi import ffi, harfbuzz, harfbuzz_subset

    cff_tag = harfbuzz.hb_tag_from_string(b"CFF ", -1)
    request = ffi.gc(harfbuzz_subset.hb_subset_input_create_or_fail(), harfbuzz_subset.hb_subset_input_destroy)
    glyph_set = harfbuzz_subset.hb_subset_input_glyph_set(request)
    wanted = sorted(glyphs | {0})
    harfbuzz.hb_set_add_sorted_array(glyph_set, ffi.new(f"hb_codepoint_t[{len(wanted)}]", wanted), len(wanted))
    harfbuzz_subset.hb_subset_input_set_flags(
        request, harfbuzz_subset.HB_SUBSET_FLAGS_NO_HINTING | harfbuzz_subset.HB_SUBSET_FLAGS_DESUBROUTINIZE)
    face = ffi.gc(harfbuzz_subset.hb_subset_or_fail(hb_face, request), harfbuzz.hb_face_destroy)
    if face == ffi.NULL:
        return None
    blob = harfbuzz.hb_face_reference_table(face, cff_tag)
    try:
        return _blob_bytes(harfbuzz, ffi, blob) or None
    finally:
        harfbuzz.hb_blob_destroy(blob)


def _blob_bytes(harfbuzz: Any, ffi: Any, blob: Any, limit: int | None = None) -> bytes:
    length = ffi.new("unsigned int *")
    data = harfbuzz.hb_blob_get_data(blob, length)
    if data == ffi.NULL:
        return b""
    size = int(length[0]) if limit is None else min(limit, int(length[0]))
    return bytes(ffi.unpack(data, size))


def _is_cid_keyed(cff: bytes) -> bool:
    """Whether the first operator of the CFF Top DICT is ROS (12 30), which makes the font CID-keyed."""
    try:
        pos = cff[2]  # header size
        pos = _skip_index(cff, pos)  # Name INDEX
        count, off_size = int.from_bytes(cff[pos:pos + 2], "big"), cff[pos + 2]
        if count == 0:
            return False
        base = pos + 3 + (count + 1) * off_size - 1
        start = base + int.from_bytes(cff[pos + 3:pos + 3 + off_size], "big")
        i = start
        while i < len(cff):
            b = cff[i]
            if b <= 21:  # an operator
                return b == 12 and cff[i + 1] == 30
            if b == 28:
                i += 3
            elif b == 29:
                i += 5
            elif b == 30:  # a real number: nibbles up to the 0xf terminator
                i += 1
                while i < len(cff) and (cff[i] & 0x0F) != 0x0F and (cff[i] >> 4) != 0x0F:
                    i += 1
                i += 1
            elif b >= 247:
                i += 2
            else:
                i += 1
    except IndexError:
        pass
    return False


def _skip_index(cff: bytes, pos: int) -> int:
    count = int.from_bytes(cff[pos:pos + 2], "big")
    if count == 0:
        return pos + 2
    off_size = cff[pos + 2]
    last = int.from_bytes(cff[pos + 3 + count * off_size:pos + 3 + (count + 1) * off_size], "big")
    return pos + 3 + (count + 1) * off_size + last - 1


def _embed_bare_cff(document: Any, pdf: Any) -> None:
    """WeasyPrint finisher: put each compact font's bare CFF program in place of its placeholder."""
    compact = {id(f.file_content): getattr(f, _COMPACT_MARK) for f in document.fonts.values()
               if hasattr(f, _COMPACT_MARK)}
    for obj in pdf.objects:
        stream = getattr(obj, "stream", None)
        if isinstance(stream, list) and len(stream) == 1 and isinstance(stream[0], _FacePlaceholder):
            if id(stream[0]) not in compact:  # never write a placeholder instead of a font
                raise RenderError("a font could not be subset for embedding")
            obj.stream = [compact[id(stream[0])]]
            obj.extra["Subtype"] = "/CIDFontType0C"
