"""The text side of the diff: line rows with context, changed characters marked, 「old → new」 snippets.

In: short texts written here. Out: assertions on `renderer.goldendiff.text`.
"""

from __future__ import annotations

from renderer.goldendiff.text import Segment, diff_lines, snippet


def test_one_digit_reads_as_text() -> None:
    old = "住所\n氏名\n生年月日　昭和59年4月2日　性別　男\n本籍\n"
    new = "住所\n氏名\n生年月日　昭和59年4月3日　性別　男\n本籍\n"
    diff = diff_lines(old, new)
    assert diff.changed
    kinds = [r.kind for r in diff.rows]
    assert kinds == ["skip", "equal", "replace", "equal"]
    assert diff.rows[0].skipped == 1
    row = diff.rows[2]
    assert (row.old_no, row.new_no) == (3, 3)
    assert Segment("delete", "2") in row.old and Segment("insert", "3") in row.new
    assert "".join(s.text for s in row.old) == "生年月日　昭和59年4月2日　性別　男"
    # ten characters of context before the change, the rest of the short line after it
    assert diff.summaries == ("…月日　昭和59年4月2日　性別　男 → …月日　昭和59年4月3日　性別　男",)


def test_snippet_keeps_short_context() -> None:
    old = "合計金額は" + "あ" * 30 + "24,690円です" + "い" * 30
    new = "合計金額は" + "あ" * 30 + "24,691円です" + "い" * 30
    text = snippet(old, new, context=6)
    assert text == "…あ24,690円ですいいい… → …あ24,691円ですいいい…"   # six characters each side
    assert "24,690" in text and "24,691" in text


def test_inserted_and_deleted_lines_and_trailing_skip() -> None:
    old = "a\nb\nc\nd\ne\nf\n"
    new = "a\nb\nX\nc\nd\ne\n"
    diff = diff_lines(old, new, context=0)
    kinds = [(r.kind, r.old_no, r.new_no) for r in diff.rows]
    assert ("insert", None, 3) in kinds
    assert ("delete", 6, None) in kinds
    assert diff.rows[0].kind == "skip"


def test_identical_texts_have_no_rows() -> None:
    diff = diff_lines("same\ntext\n", "same\ntext\n")
    assert not diff.changed and diff.rows == () and diff.summaries == ()


def test_rows_are_capped() -> None:
    old = "\n".join(f"line {i}" for i in range(500))
    new = "\n".join(f"LINE {i}" for i in range(500))
    diff = diff_lines(old, new, max_rows=50)
    assert len(diff.rows) == 50 and diff.truncated == 450 and diff.changed
