"""Visual diff of PDFs for golden-file review: pictures a reviewer reads, not only a verdict.

In: two PDFs (files or bytes; either may be absent for "no document") with their names and, for golden
cases, the differences `renderer.golden` found and both display lists. Out: a self-contained HTML report
per document pair (side-by-side, swipe, onion-skin, difference and red/cyan overlay views of each changed
page, cropped to the changed region with its bounding box drawn, plus the page's text diff and, for golden
cases, the ``display.txt`` diff), an index over many cases, and "changed or not" for the exit code.

Modules, from pixels up:

    pixels   greyscale page pair → changed-pixel mask, count, bounding box, overlay/difference pictures
    text     PDF → page texts (pypdf); two texts → line diff with the changed characters marked
    worker   PDF bytes → `DocDiff`, run only in spawned worker processes (PDFium is not thread-safe)
    report   `DocDiff` → HTML (inline base64 PNG, inline CSS/JS, no external resources)
    run      two files / `Pair`s of documents → reports on disk + changed-or-not (`renderer.golden` describes
             each golden case as a `Pair`; this package never imports it)

Rules: pages are rasterized with the pinned pypdfium2 at a stated DPI (default 100) in greyscale; a pixel is
changed when its grey levels differ by more than 32 (0–255); a page added or removed counts as changed.
"""
