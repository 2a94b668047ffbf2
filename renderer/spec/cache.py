"""A per-machine cache of validated layouts and tenant files, so a cold process does not parse and check
YAML (or decode and check a 公印 image) again.

In: a layout file's bytes (already read by `renderer.spec.validate.load_layout_traced`), the fonts it was
checked against and a loader that validates it. Out: the validated `LayoutSpec` and its `LayoutSource`
(layout and part sha256s), from ``<cache dir>/layouts/<id>-<key>.pickle`` when an entry made from exactly
these inputs exists, else loaded, stored and returned.

The key is a sha256 over the entry format, the layout file's sha256, the font manifest's sha256 (glyph
coverage of fixed text is part of validation) and the code's identity (the renderer version, pydantic's
version and the size and modification time of every module of the `renderer` package): an edited layout,
another font set or changed code is a miss, never a stale answer. The part files a layout uses are hashed
again on every hit and must match what the entry was built from. A layout that fails validation is never
stored, so its errors are reported in full every time.

Tenant files (`cached_tenant`) the same way: ``<cache dir>/tenants/<code>-<key>.pickle``, the key over the
entry format, the tenant file's sha256, its 団体コード and the code's identity; the entry holds the validated
`TenantFile`, the checked and normalised seal PNG and the sha256 of the seal file it was made from, which
is read and hashed again on every hit (a seal replaced since is checked afresh).

Entries are pickles (1 ms to read against about 160 ms to parse and validate the 住民票 layout), so they
live only where `renderer.fontcache` allows a cache: a 0700 directory owned by this user (``CHOHYO_CACHE_DIR``,
``off`` turns both caches off). A damaged entry is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pydantic

from renderer import __version__
from renderer.fontcache import usable, write_entry

if TYPE_CHECKING:
    from renderer.spec.model import LayoutSpec
    from renderer.spec.validate import LayoutSource
    from renderer.tenants import TenantFile

FORMAT = 1
MAGIC = b"CHOHYO-LAYOUTCACHE\x01"
PACKAGE = Path(__file__).resolve().parents[1]

Loader = Callable[[], "tuple[LayoutSpec, LayoutSource]"]
#: validates a tenant file: (the model, the seal file's bytes, the checked seal PNG)
TenantLoader = Callable[[], "tuple[TenantFile, bytes, bytes]"]


@lru_cache(maxsize=1)
def code_identity() -> str:
    """What identifies the code that validates and models layouts (read once per process)."""
    digest = hashlib.sha256(f"{__version__}\0{pydantic.VERSION}".encode())
    for module in sorted(PACKAGE.rglob("*.py")):
        st = module.stat()
        digest.update(f"\0{module.relative_to(PACKAGE)}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return digest.hexdigest()


def manifest_sha256(fonts_dir: Path) -> str:
    try:
        return hashlib.sha256((fonts_dir / "manifest.toml").read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def cached_layout(directory: Path | None, layout_id: str, layout_sha256: str, fonts_dir: Path, parts_dir: Path,
                  load: Loader) -> tuple[LayoutSpec, LayoutSource]:
    """The validated layout, from the cache in `directory` when a matching entry exists (None: no cache)."""
    if directory is None or not usable(directory):
        return load()
    key = hashlib.sha256(f"{FORMAT}\0{layout_sha256}\0{manifest_sha256(fonts_dir)}\0{code_identity()}".encode())
    entry = directory / "layouts" / f"{layout_id}-{key.hexdigest()[:32]}.pickle"
    found = _read(entry, parts_dir)
    if found is not None:
        return found
    spec, source = load()
    write_entry(entry, MAGIC + pickle.dumps({"format": FORMAT, "spec": spec, "source": source}, protocol=5))
    return spec, source


def _entry(path: Path) -> dict[str, Any] | None:
    """An entry's dictionary of this format, or None when it is missing, foreign or damaged."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    if not raw.startswith(MAGIC):
        return None
    try:
        loaded: Any = pickle.loads(raw[len(MAGIC):])
    except Exception:   # any damage means "not cached", never a failure
        return None
    return loaded if isinstance(loaded, dict) and loaded.get("format") == FORMAT else None


def _read(entry: Path, parts_dir: Path) -> tuple[LayoutSpec, LayoutSource] | None:
    from renderer.spec.model import LayoutSpec
    from renderer.spec.validate import LayoutSource

    loaded = _entry(entry)
    if not (loaded is not None and isinstance(loaded.get("spec"), LayoutSpec)
            and isinstance(loaded.get("source"), LayoutSource)):
        return None
    source: LayoutSource = loaded["source"]
    for use, sha256 in source.parts.items():   # a part edited since: validate again
        try:
            if hashlib.sha256((parts_dir / f"{use}.yaml").read_bytes()).hexdigest() != sha256:
                return None
        except OSError:
            return None
    return loaded["spec"], source


def cached_tenant(directory: Path | None, code: str, tenant_sha256: str, seal_path: Callable[[TenantFile], Path],
                  load: TenantLoader) -> tuple[TenantFile, bytes]:
    """The validated tenant file and its checked seal PNG, from the cache in `directory` when an entry made
    from exactly these tenant bytes exists and the seal file (`seal_path` of the model: it checks that the
    path stays in the tenants directory) still has the bytes the entry was checked from."""
    if directory is None or not usable(directory):
        tf, _, png = load()
        return tf, png
    key = hashlib.sha256(f"{FORMAT}\0tenant\0{code}\0{tenant_sha256}\0{code_identity()}".encode())
    entry = directory / "tenants" / f"{code}-{key.hexdigest()[:32]}.pickle"
    found = _read_tenant(entry, seal_path)
    if found is not None:
        return found
    tf, raw_seal, png = load()
    write_entry(entry, MAGIC + pickle.dumps({"format": FORMAT, "tenant": tf, "seal_png": png,
                                             "seal_sha256": hashlib.sha256(raw_seal).hexdigest()}, protocol=5))
    return tf, png


def _read_tenant(entry: Path, seal_path: Callable[[TenantFile], Path]) -> tuple[TenantFile, bytes] | None:
    from renderer.tenants import TenantFile

    loaded = _entry(entry)
    if not (loaded is not None and isinstance(loaded.get("tenant"), TenantFile)
            and isinstance(loaded.get("seal_png"), bytes) and isinstance(loaded.get("seal_sha256"), str)):
        return None
    tf: TenantFile = loaded["tenant"]
    try:   # the seal file the entry was checked from, unchanged (a path leaving the directory still raises)
        if hashlib.sha256(seal_path(tf).read_bytes()).hexdigest() != loaded["seal_sha256"]:
            return None
    except OSError:
        return None
    return tf, loaded["seal_png"]
