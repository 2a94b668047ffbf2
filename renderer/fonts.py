"""Fonts from `fonts/manifest.toml`: coverage, IVS, vertical forms, metrics and per-character fallback.

In: the fonts directory and a style's font chain (family names). Out: `runs()` splits text into runs
drawn by the first font in the chain that has each character; `width()` measures them with the font's
own advance widths (the numbers ReportLab embeds), looked up in a per-font table of advances in em (drawing
code → float, size-independent, filled once per code: `FontMetrics.advance_em`/`advances_em`). Never
system fonts.

- A character no font in the chain covers raises `GlyphError` naming the code point and the field (a
  missing glyph is an error, never a tofu box) unless the field declares a substitute, which is reported.
- An ideographic variation sequence (base + U+E0100–E01EF or U+FE00–FE0F) is drawn with the variant glyph
  a font registers for it (cmap format 14); a font of the chain that registers the exact sequence wins.
  A sequence no font registers is drawn with the base glyph and reported.
- Vertical text uses the fonts' `vert` substitutions (「 → ﹁, 、 → ︑, ー → |).

Variant and vertical glyphs have no Unicode code point of their own, so each font gets a deterministic
table of plane-15 private-use codes (`FontMetrics.pua`), in sorted order of their source sequences.
`renderer.draw` gives ReportLab those codes and writes ToUnicode entries that map them back to the
source sequence, so copying text out of the PDF returns what the data said. This module reads fonts with
fontTools only.
"""

from __future__ import annotations

import hashlib
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from renderer.datamodels.types import ZERO_WIDTH
from renderer.errors import GlyphError, LayoutError
from renderer.fontcache import FontCache, first_index, pack_codes, pack_ints, unpack_codes, unpack_ints

if TYPE_CHECKING:   # fontTools reads a font only when the machine cache has no entry for it
    from fontTools.ttLib import TTFont

VARIATION_SELECTORS = frozenset(range(0xFE00, 0xFE10)) | frozenset(range(0xE0100, 0xE01F0))
PUA_BASE = 0xF0000          # Supplementary Private Use Area-A: our drawing codes for unencoded glyphs
PUA_LIMIT = 0xFFFFD

CharEventKind = Literal["fallback_font", "ivs", "ivs_fallback", "substitute", "uncovered"]
#: the events after which the page shows something other than the characters given: a 異体字 (IVS) the fonts
#: lack printed as its base character, a character printed as the field's declared `substitute`
ALTERED: tuple[CharEventKind, ...] = ("ivs_fallback", "substitute")


def altered_chars(chars: Sequence[Mapping[str, object]]) -> dict[str, int]:
    """How many characters of a render (`RenderResult.chars`) printed other than given, by kind (counts only)."""
    counts = Counter(str(c.get("kind")) for c in chars if c.get("kind") in ALTERED)
    return dict(sorted(counts.items()))


@dataclass(frozen=True)
class CharEvent:
    """Something worth reporting about one character: which field, what happened, which font."""

    kind: CharEventKind
    sequence: str            # "U+8FBB U+E0102"
    field: str
    family: str | None

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "sequence": self.sequence, "field": self.field, "font": self.family}


CharSink = Callable[[CharEvent], None]
#: a resolved character: its cluster (None: zero-width, nothing drawn) and its events as (kind, sequence, family)
_Resolved = tuple["Cluster | None", tuple[tuple[CharEventKind, str, "str | None"], ...]]


def code_points(text: str) -> str:
    return " ".join(f"U+{ord(c):04X}" for c in text)


@dataclass(frozen=True)
class FontFile:
    family: str
    label: str
    path: Path
    sha256: str
    role: str
    version: str

    def verify(self) -> str | None:
        """Return None when the file matches its manifest hash, else a reason."""
        if not self.path.is_file():
            return "file is missing"
        digest = hashlib.sha256(self.path.read_bytes()).hexdigest()
        return None if digest == self.sha256 else f"sha256 is {digest}, manifest says {self.sha256}"


class FontMetrics:
    """fontTools view of one font: cmap, IVS table, vertical forms, advances (file closed after reading).

    What fontTools reads is kept per machine by `renderer.fontcache` (`METRICS_VERSION` names what
    `_metrics_entry` returns), glyph-id based and packed: the code → glyph-id table, the advances by glyph id,
    the IVS sequences and the private-use table as sorted arrays, all looked up in place (`has`,
    `advance_em`, `vertical_code`, ``(base, selector) in uvs``, ``pua.get(key)``). The name-based views
    (`cmap`, `uvs` values, `glyph_for_code`, `glyph_id`) read the glyph names, split from one string the
    first time one is asked for.
    """

    def __init__(self, file: FontFile, cache: FontCache | None = None) -> None:
        self.file = file
        data = (cache or FontCache(None)).load("metrics", file.path, file.sha256, METRICS_VERSION,
                                               lambda: _metrics_entry(file.path, file.family))
        self.units_per_em = int(data["units_per_em"])
        #: ascent and descent as fractions of the em (used to place the baseline in a box)
        self.ascent = float(data["ascent"]) / self.units_per_em
        self.descent = float(data["descent"]) / self.units_per_em
        self._names_stored: str | list[str] = data["names"]
        self._names_list: list[str] | None = None
        self._gids: Mapping[int, int] = unpack_codes(data["cmap"])          # code → glyph id
        self._adv: Sequence[int] = unpack_ints(data["advances"])            # glyph id → advance (font units)
        self._uvs_keys: Sequence[int] = unpack_ints(data["uvs_keys"])       # sorted _ivs_key(base, selector)
        self._uvs_gids: Sequence[int] = unpack_ints(data["uvs_gids"])       # glyph id, -1: the base's own
        self._pua_keys: Sequence[int] = unpack_ints(data["pua_keys"])       # sorted: vertical (code), then IVS
        self._pua_gids: Sequence[int] = unpack_ints(data["pua_gids"])       # the glyph each drawing code draws
        self.vert: dict[str, str] = data["vert"]
        #: (base, selector) → glyph name, or None for "the default glyph of base"
        self.uvs: Mapping[tuple[int, int], str | None] = _UvsView(self)
        #: key → drawing code: the source sequence for IVS (base + selector: every registered sequence gets its
        #: own code, so extraction returns the exact sequence even when it names the default glyph) and
        #: ``"\0v" + char`` for vertical forms; codes follow the sorted keys (the same font always gives the
        #: same table, whatever was rendered before in the process)
        self.pua: Mapping[str, int] = _PuaCodes(self)
        #: drawing code → the source text it stands for (for ToUnicode)
        self.pua_source: Mapping[int, str] = _PuaSources(self)
        #: the advance table: drawing code → advance in em (size-independent), filled on first use of a code
        self._em: dict[str, float] = {}

    @property
    def _names(self) -> list[str]:
        """Glyph names by glyph id (split on first use)."""
        names = self._names_list
        if names is None:
            stored = self._names_stored
            names = self._names_list = stored.split("\n") if isinstance(stored, str) else list(stored)
        return names

    @property
    def cmap(self) -> dict[int, str]:
        """Code → glyph name (the font's best cmap), made on first use; `has` is the fast membership test."""
        cmap: dict[int, str] | None = self.__dict__.get("_cmap_names")
        if cmap is None:
            names = self._names
            cmap = self.__dict__["_cmap_names"] = {code: names[gid] for code, gid in self._gids.items()}
        return cmap

    @property
    def _advances(self) -> dict[str, int]:
        """Glyph name → advance in font units (built on first use, then kept)."""
        advances: dict[str, int] | None = self.__dict__.get("_advances_by_name")
        if advances is None:
            advances = self.__dict__["_advances_by_name"] = dict(zip(self._names, self._adv, strict=True))
        return advances

    @property
    def _glyph_ids(self) -> dict[str, int]:
        """Glyph name → glyph id, for the glyphs variation sequences and vertical forms name."""
        targets = {g for g in self.uvs.values() if g is not None} | set(self.vert.values())
        targets.update(self.cmap[base] for (base, _sel), g in self.uvs.items() if g is None and base in self.cmap)
        return {name: self.glyph_id(name) for name in sorted(targets)}

    def glyph_id(self, name: str) -> int:
        ids: dict[str, int] | None = self.__dict__.get("_ids_by_name")
        if ids is None:
            ids = self.__dict__["_ids_by_name"] = {n: i for i, n in enumerate(self._names)}
        return ids[name]

    def has(self, codepoint: int) -> bool:
        return codepoint in self._gids

    def _gid_for_code(self, code: int) -> int | None:
        gid: int | None = self._gids.get(code)
        if gid is None and code >= PUA_BASE:
            i = code - PUA_BASE
            if i < len(self._pua_gids):
                gid = self._pua_gids[i]
        return gid

    def glyph_for_code(self, code: int) -> str | None:
        """The glyph a drawing code stands for: a cmap entry or one of our private-use codes."""
        gid = self._gid_for_code(code)
        return None if gid is None else self._names[gid]

    def advance_em(self, ch: str) -> float:
        """Advance of the drawing code `ch` in em (KeyError when the font has no glyph for it)."""
        em = self._em.get(ch)
        if em is None:
            em = self._em[ch] = self._advance_of(ch)
        return em

    def advances_em(self, codes: str) -> list[float]:
        """`advance_em` of every drawing code of `codes`, in order (one table look-up each)."""
        table = self._em
        get = table.get
        out: list[float] = []
        for ch in codes:
            em = get(ch)
            if em is None:
                em = table[ch] = self._advance_of(ch)
            out.append(em)
        return out

    def _advance_of(self, ch: str) -> float:
        gid = self._gid_for_code(ord(ch))
        if gid is None:
            raise KeyError(ch)
        return self._adv[gid] / self.units_per_em

    def vertical_code(self, code: int) -> int:
        """The drawing code of the vertical form of `code`, or `code` itself when it has none."""
        i = first_index(self._pua_keys, code)     # vertical keys are the code itself, below every IVS key
        return code if i is None else PUA_BASE + i


def _ivs_key(base: int, selector: int) -> int:
    """An IVS sequence as one int, ordered like the sequence's text and above every code point."""
    return base * 0x110000 + selector


def _pua_key(key: str) -> int | None:
    """A `FontMetrics.pua` key as it is stored (None for a string that cannot be one)."""
    if len(key) == 3 and key[:2] == "\0v":
        return ord(key[2])
    if len(key) == 2 and ord(key[0]) > 0:
        return _ivs_key(ord(key[0]), ord(key[1]))
    return None


def _pua_key_text(packed: int) -> str:
    return "\0v" + chr(packed) if packed < 0x110000 else chr(packed // 0x110000) + chr(packed % 0x110000)


class _UvsView(Mapping[tuple[int, int], str | None]):
    """`FontMetrics.uvs`: (base, selector) → glyph name or None, looked up in the sorted packed keys."""

    def __init__(self, metrics: FontMetrics) -> None:
        self._m = metrics

    def _index(self, key: object) -> int | None:
        if not (isinstance(key, tuple) and len(key) == 2 and all(type(k) is int and k >= 0 for k in key)):
            return None
        return first_index(self._m._uvs_keys, _ivs_key(key[0], key[1]))

    def __contains__(self, key: object) -> bool:
        return self._index(key) is not None

    def __getitem__(self, key: tuple[int, int]) -> str | None:
        i = self._index(key)
        if i is None:
            raise KeyError(key)
        gid = self._m._uvs_gids[i]
        return None if gid < 0 else self._m._names[gid]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return (divmod(k, 0x110000) for k in self._m._uvs_keys)

    def __len__(self) -> int:
        return len(self._m._uvs_keys)


class _PuaCodes(Mapping[str, int]):
    """`FontMetrics.pua`: key → drawing code (``PUA_BASE`` + the key's place in the sorted keys)."""

    def __init__(self, metrics: FontMetrics) -> None:
        self._keys = metrics._pua_keys

    def get(self, key: str, default: Any = None) -> Any:
        packed = _pua_key(key) if isinstance(key, str) else None
        i = None if packed is None else first_index(self._keys, packed)
        return default if i is None else PUA_BASE + i

    def __contains__(self, key: object) -> bool:
        return self.get(key) is not None   # type: ignore[arg-type]

    def __getitem__(self, key: str) -> int:
        code: int | None = self.get(key)
        if code is None:
            raise KeyError(key)
        return code

    def __iter__(self) -> Iterator[str]:
        return (_pua_key_text(k) for k in self._keys)

    def __len__(self) -> int:
        return len(self._keys)


class _PuaSources(Mapping[int, str]):
    """`FontMetrics.pua_source`: drawing code → the source text (a character, or base + selector)."""

    def __init__(self, metrics: FontMetrics) -> None:
        self._keys = metrics._pua_keys

    def get(self, code: int, default: Any = None) -> Any:
        i = code - PUA_BASE if type(code) is int else -1
        if not 0 <= i < len(self._keys):
            return default
        packed = self._keys[i]
        return chr(packed) if packed < 0x110000 else chr(packed // 0x110000) + chr(packed % 0x110000)

    def __contains__(self, code: object) -> bool:
        return self.get(code) is not None   # type: ignore[arg-type]

    def __getitem__(self, code: int) -> str:
        text: str | None = self.get(code)
        if text is None:
            raise KeyError(code)
        return text

    def __iter__(self) -> Iterator[int]:
        return iter(range(PUA_BASE, PUA_BASE + len(self._keys)))

    def __len__(self) -> int:
        return len(self._keys)


METRICS_VERSION = "2"


def _read_metrics(path: Path) -> dict[str, Any]:
    """What `FontMetrics` needs from a font file, as plain name-based data (`_metrics_entry` packs it)."""
    from fontTools.ttLib import TTFont

    with TTFont(str(path), lazy=True) as tt:
        cmap: dict[int, str] = dict(tt.getBestCmap())
        uvs: dict[tuple[int, int], str | None] = {}
        for table in tt["cmap"].tables:
            if table.format == 14:
                for selector, pairs in table.uvsDict.items():
                    for base, glyph in pairs:
                        uvs[(base, selector)] = glyph
        vert = _vertical_substitutions(tt)
        return {
            "glyph_order": list(tt.getGlyphOrder()),
            "cmap": cmap,
            "units_per_em": int(tt["head"].unitsPerEm),
            "advances": {name: int(adv) for name, (adv, _lsb) in tt["hmtx"].metrics.items()},
            "ascent": int(tt["hhea"].ascent),
            "descent": -int(tt["hhea"].descent),
            "uvs": uvs,
            "vert": vert,
        }


def _pua_entries(family: str, cmap: dict[int, str], uvs: dict[tuple[int, int], str | None],
                 vert: dict[str, str]) -> list[tuple[str, str]]:
    """The private-use table in code order: (key, glyph drawn), keys sorted (see `FontMetrics.pua`)."""
    entries: dict[str, str] = {}
    for (base, selector), glyph in uvs.items():
        target = glyph if glyph is not None else cmap.get(base)
        if target is not None:
            entries[chr(base) + chr(selector)] = target
    for cp, glyph in cmap.items():
        if glyph in vert:
            entries["\0v" + chr(cp)] = vert[glyph]
    if len(entries) > PUA_LIMIT - PUA_BASE:
        raise LayoutError(f"{family}: too many unencoded glyphs for the private-use table")
    return [(key, entries[key]) for key in sorted(entries)]


def _metrics_entry(path: Path, family: str) -> dict[str, Any]:
    """`_read_metrics` glyph-id based and packed, with the private-use table worked out (what the cache stores)."""
    plain = _read_metrics(path)
    order: list[str] = plain["glyph_order"]
    ids = {name: gid for gid, name in enumerate(order)}
    advances = plain["advances"]
    uvs: dict[tuple[int, int], str | None] = plain["uvs"]
    uvs_sorted = sorted(uvs.items(), key=lambda item: _ivs_key(*item[0]))
    pua = _pua_entries(family, plain["cmap"], uvs, plain["vert"])
    pua_keys = [_pua_key(key) for key, _glyph in pua]
    if None in pua_keys:
        raise LayoutError(f"{family}: a variation sequence on U+0000 cannot have a private-use code")
    return {
        "names": "\n".join(order) if not any("\n" in name for name in order) else order,
        "units_per_em": plain["units_per_em"],
        "ascent": plain["ascent"],
        "descent": plain["descent"],
        "cmap": pack_codes({code: ids[name] for code, name in plain["cmap"].items()}),
        "advances": pack_ints([advances[name] for name in order]),
        "uvs_keys": pack_ints([_ivs_key(*key) for key, _glyph in uvs_sorted]),
        "uvs_gids": pack_ints([-1 if glyph is None else ids[glyph] for _key, glyph in uvs_sorted]),
        "pua_keys": pack_ints([k for k in pua_keys if k is not None]),
        "pua_gids": pack_ints([ids[glyph] for _key, glyph in pua]),
        "vert": plain["vert"],
    }


def _vertical_substitutions(tt: TTFont) -> dict[str, str]:
    if "GSUB" not in tt:
        return {}
    gsub = tt["GSUB"].table
    if gsub.FeatureList is None or gsub.LookupList is None:
        return {}
    indices: set[int] = set()
    for record in gsub.FeatureList.FeatureRecord:
        if record.FeatureTag in ("vert", "vrt2"):
            indices.update(record.Feature.LookupListIndex)
    mapping: dict[str, str] = {}
    for index in sorted(indices):
        lookup = gsub.LookupList.Lookup[index]
        for sub in lookup.SubTable:
            table = sub.ExtSubTable if lookup.LookupType == 7 else sub
            if hasattr(table, "mapping"):
                for src, dst in sorted(table.mapping.items()):
                    mapping.setdefault(src, dst)
    return mapping


@dataclass(frozen=True)
class Run:
    """Consecutive source text drawn with one font; `draw` holds one drawing code per cluster."""

    family: str
    text: str
    draw: str = ""

    def __post_init__(self) -> None:
        if not self.draw:
            object.__setattr__(self, "draw", self.text)


@dataclass(frozen=True)
class Cluster:
    family: str
    text: str     # source: one character, or a base + variation selector
    code: str     # the drawing code (a character or one of the font's private-use codes)


class FontSet:
    """The vendored fonts, by family name."""

    def __init__(self, fonts_dir: Path, cache: FontCache | None = None) -> None:
        self.fonts_dir = fonts_dir
        #: where parsed font tables are kept between processes (`renderer.fontcache`); default: the environment's
        self.cache = cache if cache is not None else FontCache.from_env()
        manifest = fonts_dir / "manifest.toml"
        try:
            raw = tomllib.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise LayoutError(f"{manifest}: cannot read the font manifest ({exc.__class__.__name__})") from None
        self.files: dict[str, FontFile] = {}
        for entry in raw.get("font", []):
            ff = FontFile(family=entry["family"], label=entry.get("label", entry["family"]),
                          path=fonts_dir / entry["file"], sha256=entry["sha256"], role=entry["role"],
                          version=entry.get("version", ""))
            self.files[ff.family] = ff
        self._metrics: dict[str, FontMetrics] = {}
        #: per (font chain, vertical): each character or variation sequence resolved so far, with the events
        #: its resolution reported — a print run resolves the same few thousand characters again and again
        self._resolved: dict[tuple[tuple[str, ...], bool], dict[str, _Resolved]] = {}

    def families(self) -> list[str]:
        return list(self.files)

    def metrics(self, family: str) -> FontMetrics:
        m = self._metrics.get(family)
        if m is None:
            if family not in self.files:
                raise LayoutError(f"unknown font family {family!r}; known: {', '.join(self.files)}")
            m = self._metrics[family] = FontMetrics(self.files[family], self.cache)
        return m

    def clusters(self, text: str, chain: list[str], *, field: str, vertical: bool = False,
                 substitute: str | None = None, sink: CharSink | None = None,
                 collect: bool = False) -> list[Cluster]:
        """Resolve every character (or variation sequence) of `text` to a font and a drawing code.

        `collect=True` (character reports only, never for output) records an uncovered character as an
        `uncovered` event and goes on with a space in its place instead of raising.
        """
        key = (tuple(chain), vertical)
        table = self._resolved.get(key)
        if table is None:
            table = self._resolved[key] = {}
        out: list[Cluster] = []
        append = out.append
        i = 0
        n = len(text)
        while i < n:
            ch = text[i]
            source = text[i:i + 2] if i + 1 < n and ord(text[i + 1]) in VARIATION_SELECTORS else ch
            i += len(source)
            hit = table.get(source)
            if hit is not None:   # resolved before for this chain: the same cluster, the same events
                cluster, events = hit
                if cluster is not None:
                    append(cluster)
                if sink is not None:
                    for kind, sequence, family in events:
                        sink(CharEvent(kind, sequence, field, family))
                continue
            cluster = self._cluster(source, chain, field=field, vertical=vertical, substitute=substitute,
                                    sink=sink, collect=collect, table=table)
            if cluster is not None:
                append(cluster)
        return out

    def _cluster(self, source: str, chain: list[str], *, field: str, vertical: bool, substitute: str | None,
                 sink: CharSink | None, collect: bool, table: dict[str, _Resolved]) -> Cluster | None:
        """One character (or variation sequence) resolved to a cluster (None: a zero-width character); a
        resolution that needs neither the substitute nor `collect`'s stand-in is kept in `table` with the
        events it reported (their field is the caller's each time)."""
        ch = source[0]
        cp = ord(ch)
        selector = ord(source[1]) if len(source) > 1 else None
        if cp in ZERO_WIDTH:
            table[source] = (None, ())
            return None
        if cp in VARIATION_SELECTORS:
            raise GlyphError(f"{field}: variation selector U+{cp:04X} follows no base character",
                             field=field, rule="glyph-coverage")
        if ch != "\n" and (cp < 0x20 or unicodedata.category(ch) in ("Cc", "Cs")):
            raise GlyphError(f"{field}: control character U+{cp:04X} cannot be printed",
                             field=field, rule="glyph-coverage")
        if ch == "\n":
            cluster = Cluster(chain[0], ch, ch)
            table[source] = (cluster, ())
            return cluster
        chain_metrics = [self.metrics(f) for f in chain]
        seen: list[CharEvent] = []

        def record(event: CharEvent) -> None:
            seen.append(event)
            if sink is not None:
                sink(event)

        found = self._resolve(ch, selector, chain_metrics, field, record)
        if found is not None:
            cluster = found
        elif collect and substitute is None:
            record(CharEvent("uncovered", code_points(source), field, None))
            cluster = Cluster(chain[0], source, " ")
        else:
            cluster = self._substitute(ch, selector, chain_metrics, field, substitute, sink)
        if vertical:
            code = chr(self.metrics(cluster.family).vertical_code(ord(cluster.code)))
            cluster = Cluster(cluster.family, cluster.text, code)
        if found is not None:
            table[source] = (cluster, tuple((e.kind, e.sequence, e.family) for e in seen))
        return cluster

    def _resolve(self, ch: str, selector: int | None, chain: list[FontMetrics], field: str,
                 sink: CharSink | None) -> Cluster | None:
        cp = ord(ch)
        if selector is not None:
            source = ch + chr(selector)
            for m in chain:
                if (cp, selector) in m.uvs:
                    code = chr(m.pua.get(source, cp))
                    if sink:
                        sink(CharEvent("ivs", code_points(source), field, m.file.family))
                    return Cluster(m.file.family, source, code)
            for m in chain:
                if m.has(cp):
                    if sink:
                        sink(CharEvent("ivs_fallback", code_points(source), field, m.file.family))
                    return Cluster(m.file.family, source, ch)
            return None
        for index, m in enumerate(chain):
            if m.has(cp):
                if index and sink:
                    sink(CharEvent("fallback_font", code_points(ch), field, m.file.family))
                return Cluster(m.file.family, ch, ch)
        return None

    def _substitute(self, ch: str, selector: int | None, chain: list[FontMetrics], field: str,
                    substitute: str | None, sink: CharSink | None) -> Cluster:
        source = ch + (chr(selector) if selector is not None else "")
        if substitute is not None:
            for m in chain:
                if m.has(ord(substitute)):
                    if sink:
                        sink(CharEvent("substitute", code_points(source), field, m.file.family))
                    return Cluster(m.file.family, source, substitute)
        if sink:
            sink(CharEvent("uncovered", code_points(source), field, None))
        raise GlyphError(f"{field}: no font in the chain {' → '.join(m.file.family for m in chain)} "
                         f"has {code_points(source)}", field=field, rule="glyph-coverage")

    def runs(self, text: str, chain: list[str], *, field: str, vertical: bool = False,
             substitute: str | None = None, sink: CharSink | None = None) -> list[Run]:
        """Split `text` into runs by coverage (see `clusters`)."""
        return group_runs(self.clusters(text, chain, field=field, vertical=vertical, substitute=substitute,
                                        sink=sink))

    def width(self, runs: list[Run], size_pt: float, *, letter_spacing_pt: float = 0.0,
              h_scale: float = 1.0) -> float:
        total = 0.0
        count = 0
        for run in runs:
            for em in self.metrics(run.family).advances_em(run.draw):
                total += em * size_pt
                count += 1
        return (total + letter_spacing_pt * count) * h_scale


def group_runs(clusters: list[Cluster]) -> list[Run]:
    out: list[Run] = []
    for c in clusters:
        if out and out[-1].family == c.family:
            out[-1] = Run(c.family, out[-1].text + c.text, out[-1].draw + c.code)
        else:
            out.append(Run(c.family, c.text, c.code))
    return out


@lru_cache(maxsize=4)
def font_set(fonts_dir: Path) -> FontSet:
    """The `FontSet` of `fonts_dir`, loaded once per process and directory (a batch worker, the service, the CLI)."""
    return FontSet(fonts_dir)
