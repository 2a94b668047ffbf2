"""End-to-end properties of a render: text, determinism, metadata, fonts, omissions, sheets, schemas."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from renderer.api import Mode, Renderer, RenderResult
from renderer.errors import InputError, RefusedError, TextOverflowError, UsageError
from renderer.schemas import write_schemas
from renderer.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = json.loads((ROOT / "layouts" / "samples" / "juminhyo-setai.json").read_text(encoding="utf-8"))
SAMPLE["request"]["issued_on"] = "2026-11-27"   # the bundled sample is issued "today"; tests pin the date


# The server's clock during these renders: the sample's 交付年月日 (a certificate is issued today).
CLOCK = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))


def make_renderer(state: Path) -> Renderer:
    return Renderer(Settings(layouts_dir=ROOT / "layouts", fonts_dir=ROOT / "fonts", state_dir=state,
                             clock=lambda: CLOCK))


@pytest.fixture
def renderer(tmp_path: Path) -> Renderer:
    return make_renderer(tmp_path / "state")


def sample(**request: Any) -> dict[str, Any]:
    env: dict[str, Any] = copy.deepcopy(SAMPLE)
    env["request"].update(request)
    return env


def pages_text(pdf: bytes) -> list[str]:
    return [p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages]


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_pdf_text_contains_what_the_data_says(renderer: Renderer) -> None:
    result = renderer.render(sample(), layout_id="juminhyo-setai")
    text = squash(pages_text(result.pdf)[0])
    for expected in ["千葉県佐倉市見本町一丁目2番地3", "見本ハイツ101号", "見本太郎", "見本花子", "ミホンハナコ",
                     "昭和59年4月2日", "1990年2月14日",        # a foreign resident's birth date is 西暦
                     "平成26年3月15日", "東京都千代田区見本一丁目1番1号", "オーストラリア",
                     "この写しは、世帯全員の住民票の原本と相違ないことを証明する。", "令和8年11月27日",
                     "千葉県佐倉市長", "見本一郎", "この印は黒色です", "【空欄】", "1/1"]:
        assert expected in text, expected
    assert "平成2年2月14日" not in text    # never both calendars for the foreign resident


def test_same_input_gives_identical_bytes(tmp_path: Path) -> None:
    a = make_renderer(tmp_path / "a").render(sample(), layout_id="juminhyo-setai")
    b = make_renderer(tmp_path / "b").render(sample(), layout_id="juminhyo-setai")
    assert a.pdf == b.pdf
    assert a.display == b.display


def test_serials_differ_per_copy_and_render(renderer: Renderer) -> None:
    first = renderer.render(sample(copies=2), layout_id="juminhyo-setai")
    second = renderer.render(sample(), layout_id="juminhyo-setai")
    numbers = first.issue_numbers + second.issue_numbers
    assert numbers == [f"20261127 佐倉市 本庁1 プリンタ001 {n:06d}" for n in (1, 2, 3)]
    texts = [squash(t) for t in pages_text(first.pdf)]
    assert "000001" in texts[0] and "000002" in texts[1]
    assert first.pages == 2 and first.sheets_per_copy == 1


def test_metadata_and_creation_date(renderer: Renderer) -> None:
    result = renderer.render(sample(), layout_id="juminhyo-setai")
    reader = PdfReader(io.BytesIO(result.pdf))
    meta = reader.metadata
    assert meta is not None
    assert meta.title == "住民票の写し（世帯連記式）"
    assert meta.get("/CreationDate") == "D:20261127000000+09'00'"
    assert "chohyo-renderer" in str(meta.get("/Producer"))
    root: Any = reader.trailer["/Root"]
    assert root["/Lang"] == "ja-JP"


def test_every_font_is_an_embedded_subset(renderer: Renderer) -> None:
    result = renderer.render(sample(), layout_id="juminhyo-setai")
    reader = PdfReader(io.BytesIO(result.pdf))
    seen = 0
    for page in reader.pages:
        resources: Any = page["/Resources"]
        for ref in resources["/Font"].values():
            font = ref.get_object()
            name = str(font["/BaseFont"])
            assert re.match(r"^/[A-Z]{6}\+(IPAexMincho|IPAexGothic|IPAmjMincho)$", name), name
            assert "/FontFile2" in font["/FontDescriptor"]
            seen += 1
    assert seen >= 3
    assert b"Helvetica" not in result.pdf


def _render_text(renderer: Renderer, env: dict[str, Any]) -> str:
    return squash("".join(pages_text(renderer.render(env, layout_id="juminhyo-setai").pdf)))


def test_withheld_items_never_reach_the_pdf_with_positive_control(renderer: Renderer) -> None:
    withheld = _render_text(renderer, sample(include=["head_and_relationship"]))
    shown = _render_text(renderer, sample(include=["head_and_relationship", "my_number", "honseki",
                                                    "resident_code"]))
    for value in ["123456789018", "12345678901"]:
        digits_shown = shown.replace(" ", "")
        assert value in digits_shown                       # positive control: extraction works
        assert value not in withheld.replace(" ", "")
    assert "千葉県佐倉市見本町一丁目2番地" in shown and withheld.count("見本町一丁目2番地") == 1  # only 住所


def test_third_party_asking_for_my_number_is_refused(renderer: Renderer) -> None:
    env = sample(include=["my_number"], requester={"relation": "third_party", "purpose": "相続手続"})
    with pytest.raises(RefusedError) as info:
        renderer.render(env, layout_id="juminhyo-setai")
    assert info.value.rule == "third-party-no-my-number" and info.value.exit_code == 3


def test_third_party_tenant_default_never_smuggles_a_forbidden_item(renderer: Renderer) -> None:
    env = sample(requester={"relation": "third_party", "purpose": "相続手続"})
    env["request"].pop("include")
    text = _render_text(renderer, env)
    assert "123456789018" not in text.replace(" ", "")


def household_of(n: int) -> dict[str, Any]:
    env = sample()
    members = env["data"]["household"]["members"]
    base = [m for m in members if "foreign" not in m]
    extra = []
    for i in range(n - len(base)):
        child = copy.deepcopy(base[2])
        child["person_id"] = f"10000010{i}"
        child["name"] = f"見本　{'二三四五六七'[i]}郎"
        child["relationship"] = "二男" if i == 0 else "三男"
        child["birth_date"] = f"201{7 + i}-01-0{1 + i}"
        # born here: a resident from birth (住基法7条6号), 届出日 the 出生届, no 転入前住所 or 旧氏
        child["became_resident_on"] = child["notified_on"] = child["birth_date"]
        for moved in ("address_set_on", "moved_in_from", "former_name", "former_name_kana"):
            child.pop(moved, None)
        extra.append(child)
    env["data"]["household"]["members"] = base + extra
    return env


def test_household_of_six_gives_two_sheets_with_certification_on_the_last(renderer: Renderer) -> None:
    result: RenderResult = renderer.render(household_of(6), layout_id="juminhyo-setai")
    texts = [squash(t) for t in pages_text(result.pdf)]
    assert len(texts) == 2 and result.sheets_per_copy == 2
    assert texts[0].endswith("1/2") or "1/2" in texts[0]
    assert "2/2" in texts[1]
    assert "この写しは" not in texts[0] and "この写しは" in texts[1]
    assert "千葉県佐倉市長" not in texts[0] and "千葉県佐倉市長" in texts[1]
    assert "（次葉に続く）" in texts[0]


def test_household_order_is_the_standard_one(renderer: Renderer) -> None:
    result = renderer.render(sample(), layout_id="juminhyo-setai")
    names = [line for line in result.display.splitlines() if "IPAmjMincho 13.00" in line]
    order = [n.split("'")[1].replace("\\u3000", "\u3000") for n in names]
    assert order[:5] == ["見本　太郎", "見本　太郎", "見本　花子", "見本　翔", "MIHON EMMA"]


def test_layout_id_must_match_the_envelope(renderer: Renderer) -> None:
    with pytest.raises(UsageError) as info:
        renderer.render(sample(), layout_id="juminhyo-kojin")
    assert info.value.exit_code == 2 and info.value.field == "layout"


def test_invalid_data_names_the_field_without_values(renderer: Renderer) -> None:
    env = sample()
    env["data"]["household"]["address"].pop("municipality")
    with pytest.raises(InputError) as info:
        renderer.render(env, layout_id="juminhyo-setai")
    paths = [d.path for d in info.value.diagnostics]
    assert "data.household.address.municipality" in paths
    assert "見本" not in str(info.value)


def test_signer_out_of_office_is_refused(renderer: Renderer) -> None:
    with pytest.raises(RefusedError) as info:
        renderer.render(sample(issued_on="2001-01-01"), layout_id="juminhyo-setai")
    assert info.value.rule == "signer-in-office"


def test_deputy_signs_with_prefecture_in_title(renderer: Renderer) -> None:
    text = _render_text(renderer, sample(signer="deputy"))
    # the 都道府県名 once, in the 職名; the deputy's own post follows without repeating it
    assert "千葉県佐倉市長職務代理者副市長" in text and "見本次郎" in text and "千葉県佐倉市副市長" not in text


def test_seal_off_prints_koin_shoryaku_and_no_image(renderer: Renderer) -> None:
    result = renderer.render(sample(seal=False), layout_id="juminhyo-setai")
    assert "公印省略" in squash(pages_text(result.pdf)[0])
    assert not result.seal_printed and "image " not in result.display
    assert "この印は黒色です" not in squash(pages_text(result.pdf)[0])


def test_sample_tenant_always_prints_watermark(renderer: Renderer) -> None:
    result = renderer.render(sample(), layout_id="juminhyo-setai")
    assert re.search(r"text .* IPAexGothic 150.00 gray=0.86 angle=40.0 '見本'", result.display)


def test_committed_schemas_are_current(renderer: Renderer) -> None:
    stale = write_schemas(renderer, check=True)
    assert stale == [], f"run `chohyo layouts schema` to regenerate: {stale}"


def test_the_schemas_are_made_in_a_fresh_process() -> None:
    """`chohyo layouts schema` in a process that has validated nothing: the deferred models (a layout's
    default ``paper`` is one) are built first, or stating their defaults fails."""
    code = ("from renderer.schemas import envelope_schema, layout_schema\n"
            "assert layout_schema()['properties']['paper']\n"
            "assert envelope_schema('juminhyo-setai', 'juminhyo')['properties']['data']\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_a_number_is_not_a_date(renderer: Renderer) -> None:
    env = sample()
    env["data"]["household"]["members"][0]["birth_date"] = 0     # pydantic's lax mode would say 1970-01-01
    with pytest.raises(InputError) as info:
        renderer.render(env, layout_id="juminhyo-setai")
    assert "data.household.members[0].birth_date" in [d.path for d in info.value.diagnostics]


def test_a_value_a_formatter_refuses_is_named_by_its_data_path(renderer: Renderer) -> None:
    """A 生年月日 before 1873 has no honest 和暦: refused naming the member it belongs to (the input's index),
    not the layout's ``item.birth_date`` (found by a hostile-caller audit)."""
    env = sample()
    env["data"]["household"]["members"][2]["birth_date"] = "1860-01-01"
    with pytest.raises(InputError) as info:
        renderer.render(env, layout_id="juminhyo-setai")
    assert info.value.field == "data.household.members[2].birth_date"


def test_text_that_does_not_fit_is_named_by_the_input_it_comes_from(renderer: Renderer) -> None:
    """An over-long 備考 of the third member (input index 1) is refused naming that member's line of the
    input (``remarks[0]``, brackets as input errors write them), not the layout's ``item.remarks.0``."""
    env = sample()
    env["data"]["household"]["members"][1]["remarks"] = ["転入届出により記載" * 12]
    with pytest.raises(TextOverflowError) as info:
        renderer.render(env, layout_id="juminhyo-setai")
    assert info.value.field == "data.household.members[1].remarks[0]"
    assert str(info.value).startswith("data.household.members[1].remarks[0]: ")
    assert "転入" not in str(info.value)


def test_a_template_that_needed_its_overflow_policy_is_reported_by_the_data_it_reads(tmp_path: Path) -> None:
    """The 記載事項証明書's 使用目的 is a template (「使用目的　{{ data.certify.purpose }}」): a long one that
    needed a smaller size is reported as ``data.certify.purpose``, not as ``elements[4]``."""
    env = json.loads((ROOT / "layouts" / "samples" / "juminhyo-kisaijiko.json").read_text(encoding="utf-8"))
    env["request"]["issued_on"] = "2026-11-27"
    env["data"]["certify"]["purpose"] = "児童手当の申請に使用するため" * 5
    result = make_renderer(tmp_path / "state").render(env, layout_id="juminhyo-kisaijiko")
    assert [e["field"] for e in result.overflow] == ["data.certify.purpose"]


# --------------------------------------------------------------------------- one pipeline (Renderer.prepare)


class NoRegistry:
    """A DV registry that must not be read."""

    def snapshot(self, *args: Any) -> Any:
        raise AssertionError("the DV registry was read")


def test_an_unknown_layout_id_names_the_known_ones(renderer: Renderer) -> None:
    for layout_id in ("no-such-layout", "../layouts/juminhyo-setai", "/etc/passwd"):   # a path is never loaded
        with pytest.raises(UsageError) as info:
            renderer.render(sample(), layout_id=layout_id)
        assert info.value.message.startswith(f"unknown layout {layout_id!r}; known: ")
        assert "juminhyo-setai" in info.value.message and info.value.field == "layout"


def test_a_known_layout_the_envelope_does_not_name(renderer: Renderer) -> None:
    with pytest.raises(UsageError) as info:
        renderer.prepare(sample(), layout_id="juminhyo-kojin", mode=Mode.VALIDATE)
    assert info.value.message == ("layout: the envelope names layout 'juminhyo-setai', but this call renders "
                                  "'juminhyo-kojin'")
    with pytest.raises(InputError) as record:   # a batch record: invalid input, the run goes on
        renderer.prepare(sample(), layout_id="juminhyo-kojin", mode=Mode.BATCH, registry=NoRegistry())
    assert record.value.message == info.value.message and record.value.field == "layout"


def test_validate_and_chars_never_read_the_registry_nor_open_the_database(renderer: Renderer) -> None:
    for mode in (Mode.VALIDATE, Mode.CHARS):
        plan = renderer.prepare(sample(), layout_id="juminhyo-setai", mode=mode, registry=NoRegistry())
        assert plan.dv.policy == "block" and plan.dv.lifts == [] and plan.dv.protected == []
    assert renderer._db is None
    with pytest.raises(AssertionError, match="registry was read"):
        renderer.prepare(sample(), layout_id="juminhyo-setai", mode=Mode.RENDER, registry=NoRegistry())


def test_what_each_mode_checks(renderer: Renderer) -> None:
    yesterday = sample(issued_on="2026-11-26", terminal="no-such-terminal")
    for mode in (Mode.RENDER, Mode.VALIDATE):   # the declared devices come first
        with pytest.raises(InputError, match=r"request\.terminal"):
            renderer.prepare(yesterday, layout_id="juminhyo-setai", mode=mode)
    with pytest.raises(RefusedError) as info:
        renderer.prepare(sample(issued_on="2026-11-26"), layout_id="juminhyo-setai", mode=Mode.VALIDATE)
    assert info.value.rule == "issued-on-today"
    chars = renderer.prepare(yesterday, layout_id="juminhyo-setai", mode=Mode.CHARS)   # the run checks those
    assert chars.sheets == 0 and chars.copies == 1
    validated = renderer.prepare(sample(copies=2), layout_id="juminhyo-setai", mode=Mode.VALIDATE)
    assert (validated.sheets, validated.copies, validated.overflow) == (1, 2, [])
    undated = sample()
    del undated["request"]["issued_on"]   # issued today by the server's clock, in every mode
    for mode in (Mode.VALIDATE, Mode.CHARS):
        assert renderer.prepare(undated, layout_id="juminhyo-setai", mode=mode).doc.request.issued_on == \
            CLOCK.date()


def test_a_refusal_is_told_before_it_is_raised_and_only_a_render_logs_it(renderer: Renderer) -> None:
    told: list[tuple[str, str, str | None]] = []

    def on_refusal(envelope: Any, spec: Any, exc: RefusedError) -> None:
        told.append((envelope.layout, spec.id, exc.rule))

    env = sample(include=["my_number"], requester={"relation": "third_party", "purpose": "相続手続"})
    with pytest.raises(RefusedError):
        renderer.prepare(env, layout_id="juminhyo-setai", mode=Mode.VALIDATE, on_refusal=on_refusal)
    assert told == [("juminhyo-setai", "juminhyo-setai", "third-party-no-my-number")]
    with pytest.raises(InputError):   # not a refusal: nothing told
        renderer.prepare(sample(terminal="nope"), layout_id="juminhyo-setai", on_refusal=on_refusal)
    assert len(told) == 1
    with pytest.raises(RefusedError):
        renderer.render(env, layout_id="juminhyo-setai")
    assert [json.loads(r["body"])["event"] for r in renderer.issue_log.records()] == ["refusal"]


def test_mode_table_is_what_the_modes_say() -> None:
    assert [m.value for m in Mode] == ["render", "batch", "validate", "chars", "preview"]
    assert [(m.reads_registry, m.checks_request, m.counts_sheets) for m in Mode] == [
        (True, True, True), (True, True, True), (False, True, True), (False, False, False), (True, True, True)]


def _envelope_of(layout: str) -> dict[str, Any]:
    env: dict[str, Any] = json.loads((ROOT / "layouts" / "samples" / f"{layout}.json").read_text(encoding="utf-8"))
    env["request"]["issued_on"] = CLOCK.date().isoformat()
    return env


@pytest.mark.parametrize("layout", ["ichiran-kyufu", "ichiran-idosha"])
def test_a_layout_that_prints_no_issue_number_spends_none(renderer: Renderer, layout: str) -> None:
    """A number that never reaches the paper is not issued: a list renders with no reservation, no serial,
    and a render record that closes nothing; the log still verifies."""
    assert not renderer.layout(layout).prints_issue_number
    result = renderer.render(_envelope_of(layout), layout_id=layout)
    assert result.issue_numbers == [] and result.numbers == [] and result.copies == 1
    bodies = [json.loads(r["body"]) for r in renderer.issue_log.records()]
    assert [b["event"] for b in bodies] == ["render"] and bodies[0]["issue_numbers"] == []
    assert renderer.issue_log.verify().ok
    assert "発行番号" not in "".join(pages_text(result.pdf))


@pytest.mark.parametrize("layout", ["juminhyo-setai", "tsuchisho-nozei"])
def test_a_number_that_is_spent_is_the_number_on_the_paper(renderer: Renderer, layout: str) -> None:
    env = _envelope_of(layout)
    assert renderer.layout(layout).prints_issue_number
    result = renderer.render(env, layout_id=layout)
    assert len(result.issue_numbers) == 1 == len(result.numbers)
    assert squash(result.issue_numbers[0]) in squash(pages_text(result.pdf)[0])


def test_samples_and_golden_inputs_validate_against_the_published_input_schemas() -> None:
    """An integrator's validator accepts what we ship: `request.issued_on` may be absent (issued today)."""
    import jsonschema  # type: ignore[import-untyped]

    inputs = sorted((ROOT / "layouts" / "samples").glob("*.json")) + sorted((ROOT / "golden").glob("*/*/input.json"))
    for path in inputs:
        envelope = json.loads(path.read_text(encoding="utf-8"))
        schema = json.loads((ROOT / "layouts" / "input-schemas" / f"{envelope['layout']}.json").read_text("utf-8"))
        if (path.parent / "expected-error.json").exists():
            continue   # a refused case may be invalid on purpose
        jsonschema.validate(envelope, schema)
