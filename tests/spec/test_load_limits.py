"""The YAML loader's bounds: alias bombs ("billion laughs"), recursive aliases, deep nesting and tags.

Every refusal is a `LayoutError` (exit 2) naming the file and the line, never a traceback, and comes back
quickly: the bounds are checked while composing, before anything is expanded. The shipped layouts and
tenant files use no anchors, so they load as before (control). The full bomb runs in a child process with
a memory and time limit, so a regression fails the test instead of exhausting the machine.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from renderer.errors import LayoutError
from renderer.spec.load import MAX_ALIAS_USES, MAX_DEPTH, MAX_EXPANDED_NODES, load_yaml, load_yaml_text

REPO = Path(__file__).resolve().parents[2]


def bomb(levels: int, width: int = 9) -> str:
    """The classic: each level is a list of `width` aliases to the level before (width**levels leaves)."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def refused(text: str, source: str = "bomb.yaml") -> LayoutError:
    with pytest.raises(LayoutError) as info:
        load_yaml_text(text, source=source)
    return info.value


def test_the_shipped_layouts_and_tenants_still_load() -> None:
    files = sorted((REPO / "layouts").glob("*.yaml")) + sorted((REPO / "layouts" / "tenants").glob("*.yaml"))
    assert len(files) >= 10
    for path in files:
        assert isinstance(load_yaml(path).data, dict), path.name


def test_a_few_aliases_are_still_fine() -> None:
    loaded = load_yaml_text("a: &s {fonts: [IPAexMincho], size_pt: 9}\nb: *s\nc: [*s, *s]\n", source="ok.yaml")
    assert loaded.data["b"] == loaded.data["a"] == {"fonts": ["IPAexMincho"], "size_pt": 9}
    assert loaded.data["c"] == [loaded.data["a"]] * 2
    assert loaded.lines["c"] == 3


def test_a_moderate_bomb_is_refused_naming_file_and_line() -> None:
    # 6 levels of 10: a million leaves from 50 aliases (under the alias bound: the expansion bound fires).
    text = bomb(6, width=10)
    exc = refused(text)
    assert exc.exit_code == 2
    (d,) = exc.diagnostics
    assert d.source == "bomb.yaml"
    assert d.line == 5   # l4 is the first item over the bound: 1 + 10 × 11,111 nodes
    assert text.splitlines()[d.line - 1].startswith("l4: &l4")
    assert f"more than {MAX_EXPANDED_NODES} nodes" in d.message
    assert "bomb.yaml:5" in str(exc)


def test_the_billion_laughs_is_refused_quickly(tmp_path: Path) -> None:
    """9 levels of 9 aliases (387 million leaves): refused in well under a second, in a bounded child."""
    path = tmp_path / "laughs.yaml"
    path.write_text(bomb(10), encoding="utf-8")
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from renderer.errors import LayoutError
        from renderer.spec.load import load_yaml
        start = time.perf_counter()
        try:
            load_yaml(Path({str(path)!r}))
        except LayoutError as exc:
            print(f"{{time.perf_counter() - start:.3f}}")
            print(exc)
            sys.exit(0)
        sys.exit("loaded without refusal")
    """)

    def limit() -> None:   # 1 GiB of address space: an unbounded expansion dies here, not the machine
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          preexec_fn=limit, cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    seconds, message = done.stdout.split("\n", 1)
    assert float(seconds) < 1.0
    assert f"{path}:" in message and "refused" in message and "Traceback" not in done.stderr


def test_too_many_alias_uses_are_refused() -> None:
    uses = ", ".join(["*a"] * (MAX_ALIAS_USES + 1))
    exc = refused(f"a: &a x\nb: [{uses}]\n")
    (d,) = exc.diagnostics
    assert d.line == 2 and f"more than {MAX_ALIAS_USES} alias uses" in d.message
    # the bound itself is allowed
    uses = ", ".join(["*a"] * MAX_ALIAS_USES)
    assert len(load_yaml_text(f"a: &a x\nb: [{uses}]\n", source="ok.yaml").data["b"]) == MAX_ALIAS_USES


def test_a_recursive_alias_is_refused() -> None:
    exc = refused("ok: 1\nloop: &x\n  - 1\n  - *x\n")
    (d,) = exc.diagnostics
    assert d.line == 4 and "recursive alias" in d.message


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    depth = 3000
    exc = refused("a: " + "[" * depth + "]" * depth + "\n")
    (d,) = exc.diagnostics
    assert d.line == 1 and f"nested more than {MAX_DEPTH} deep" in d.message


@pytest.mark.parametrize(("text", "what"), [
    ("a: !!python/name:os.system x\n", "python/name"),
    ("a: &x {b: 1}\nc: {<<: *x}\n", "merge"),
])
def test_tags_and_merge_keys_are_diagnostics_not_tracebacks(text: str, what: str) -> None:
    exc = refused(text, source="tags.yaml")
    (d,) = exc.diagnostics
    assert what in d.message and d.source == "tags.yaml" and d.line is not None

