"""A vendor's configuration mistakes get an answer that names the setting and the reason (exit 2; exit 1 for a
database that is down), never "internal failure (FileExistsError)", and a server refuses to start on them.

In: the CLI (`typer`'s runner) with a state directory that is a file, a mistyped or unreachable database URL
(its password must not be shown), a layouts directory with no layout, a short log key. Out: exit codes and
the problem+json on stderr. Found by a vendor's closed-network install review."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from renderer.cli import app

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = str(ROOT / "layouts" / "samples" / "juminhyo-setai.json")


def run(args: list[str], env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(app, [*args, "--json"], env=env)
    lines = result.stderr.strip().splitlines()
    return result.exit_code, json.loads(lines[-1]) if lines else {}


@pytest.fixture
def in_the_way(tmp_path: Path) -> Path:
    path = tmp_path / "state"
    path.write_text("a file where the state directory should be", encoding="utf-8")
    return path


@pytest.mark.parametrize("args", [
    ["render", "juminhyo-setai", SAMPLE, "-o", "OUT"],
    ["audit", "verify"],
    ["db", "status"],
    ["keys", "create", "--tenant", "122122", "--role", "render"],
])
@pytest.mark.parametrize("below", [False, True])
def test_a_state_directory_that_cannot_be_one(tmp_path: Path, in_the_way: Path, args: list[str],
                                              below: bool) -> None:
    state = in_the_way / "sub" if below else in_the_way
    args = [str(tmp_path / "o.pdf") if a == "OUT" else a for a in args]
    code, problem = run(args, {"CHOHYO_STATE_DIR": str(state)})
    assert code == 2, problem
    assert problem["field"] == "CHOHYO_STATE_DIR" and "a file is in the way" in problem["detail"]
    assert not (tmp_path / "o.pdf").exists()


@pytest.mark.parametrize("url", ["postgresq://chohyo:hunter2@127.0.0.1/db", "not a url"])
def test_a_database_url_that_can_never_work_is_a_usage_error(tmp_path: Path, url: str) -> None:
    env = {"CHOHYO_STATE_DIR": str(tmp_path / "state"), "CHOHYO_DATABASE_URL": url}
    code, problem = run(["render", "juminhyo-setai", SAMPLE, "-o", str(tmp_path / "o.pdf")], env)
    assert code == 2 and problem["field"] == "CHOHYO_DATABASE_URL", problem
    assert "hunter2" not in json.dumps(problem) and "postgresql://USER:PASSWORD@HOST/DB" in problem["detail"]
    served = CliRunner().invoke(app, ["serve", "--port", "9"], env=env)   # refuses to start: never reachable
    assert served.exit_code == 2 and "CHOHYO_DATABASE_URL" in served.stderr and "hunter2" not in served.stderr


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://chohyo:hunter2@127.0.0.1:9/nothing", "postgresql://chohyo@127.0.0.1:9/nothing"),
    ("postgresql://chohyo@127.0.0.1:9/nothing?password=hunter2", "postgresql://chohyo@127.0.0.1:9/nothing"),
    ("postgresql://chohyo:hun@ter2@127.0.0.1:9/nothing", "an @ in the password is not encoded"),
])
def test_a_database_that_is_down_is_named_without_its_password(tmp_path: Path, url: str, shown: str) -> None:
    env = {"CHOHYO_STATE_DIR": str(tmp_path / "state"), "CHOHYO_DATABASE_URL": url}
    code, problem = run(["render", "juminhyo-setai", SAMPLE, "-o", str(tmp_path / "o.pdf")], env)
    assert code == 1 and problem["type"].endswith("database-unavailable"), problem
    assert shown in problem["detail"] and problem["field"] == "CHOHYO_DATABASE_URL"
    assert "hunter2" not in json.dumps(problem) and "ter2" not in json.dumps(problem)
    assert not (tmp_path / "o.pdf").exists()


def test_a_state_database_that_cannot_be_opened_names_the_state_directory(tmp_path: Path) -> None:
    state = tmp_path / "state"
    (state / "chohyo.sqlite3").mkdir(parents=True)   # a directory where the SQLite file should be
    code, problem = run(["render", "juminhyo-setai", SAMPLE, "-o", str(tmp_path / "o.pdf")],
                        {"CHOHYO_STATE_DIR": str(state)})
    assert code == 1 and problem["field"] == "CHOHYO_STATE_DIR", problem
    assert str(state / "chohyo.sqlite3") in problem["detail"] and "CHOHYO_DATABASE_URL" not in problem["detail"]


@pytest.mark.parametrize("args", [["layouts"], ["layouts", "validate"], ["render", "juminhyo-setai", SAMPLE, "-o",
                                                                        "OUT"]])
@pytest.mark.parametrize("where", ["missing", "empty"])
def test_a_layouts_directory_without_layouts(tmp_path: Path, args: list[str], where: str) -> None:
    layouts = tmp_path / "layouts"
    if where == "empty":
        layouts.mkdir()
    args = [str(tmp_path / "o.pdf") if a == "OUT" else a for a in args]
    env = {"CHOHYO_LAYOUTS_DIR": str(layouts), "CHOHYO_STATE_DIR": str(tmp_path / "state")}
    code, problem = run(args, env)
    assert code == 2 and problem["field"] == "CHOHYO_LAYOUTS_DIR", problem
    assert ("holds no layout" if where == "empty" else "is not a directory") in problem["detail"]
    served = CliRunner().invoke(app, ["serve", "--port", "9"], env=env)   # no worker starts, no traceback
    assert served.exit_code == 2 and "CHOHYO_LAYOUTS_DIR" in served.stderr and "Traceback" not in served.stderr


def test_a_log_key_that_is_not_one_names_the_setting(tmp_path: Path) -> None:
    env = {"CHOHYO_STATE_DIR": str(tmp_path / "state"), "CHOHYO_LOG_KEY": "abcd1234"}
    code, problem = run(["render", "juminhyo-setai", SAMPLE, "-o", str(tmp_path / "o.pdf")], env)
    assert code == 2 and problem["detail"].startswith("CHOHYO_LOG_KEY: "), problem
    key_file = tmp_path / "state2" / "issue-log.key"
    key_file.parent.mkdir(mode=0o700)
    key_file.write_text("hello\n", encoding="ascii")
    key_file.chmod(0o600)
    code, problem = run(["render", "juminhyo-setai", SAMPLE, "-o", str(tmp_path / "o.pdf")],
                        {"CHOHYO_STATE_DIR": str(key_file.parent)})
    assert code == 1 and str(key_file) in problem["detail"] and "hex digits" in problem["detail"], problem
