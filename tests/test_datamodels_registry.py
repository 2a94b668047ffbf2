"""The lazy data-model registry (renderer/datamodels/__init__.py): every layout's model listed, imported on use.

In: the layouts and the package's modules. Out: assertions that `DATA_MODELS` names every layout's
`data_model` and every top-level model class the package defines, that each entry is a pydantic model, and
that a fresh process binding one layout imports that layout's model modules only.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import yaml
from pydantic import BaseModel

import renderer.datamodels as datamodels
from renderer.datamodels import DATA_MODELS, MODEL_PATHS

ROOT = Path(__file__).resolve().parents[1]


def test_every_layout_names_a_listed_model() -> None:
    named = {yaml.safe_load(p.read_text(encoding="utf-8"))["data_model"] for p in (ROOT / "layouts").glob("*.yaml")}
    assert named and named <= set(DATA_MODELS)
    assert set(MODEL_PATHS) == named      # no model is listed that no layout uses


def test_every_entry_is_a_pydantic_model_of_this_package() -> None:
    assert len(DATA_MODELS) == len(MODEL_PATHS)
    for name, model in DATA_MODELS.items():
        assert isinstance(model, type) and issubclass(model, BaseModel), name
        assert model.__module__ == MODEL_PATHS[name][0]
        assert getattr(datamodels, model.__name__) is model          # importable by class name too


def test_no_top_level_data_model_is_left_out() -> None:
    """A module's models that the registry names: any class ending in Data/List/Notice that is the root of an
    envelope's ``data`` must be listed (a helper model such as `Person` need not be)."""
    listed = {(module, cls) for module, cls in MODEL_PATHS.values()}
    for info in pkgutil.iter_modules(datamodels.__path__):
        module = importlib.import_module(f"renderer.datamodels.{info.name}")
        for name, value in vars(module).items():
            if (isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == module.__name__
                    and name.endswith(("Data", "List", "Notice"))):
                assert (module.__name__, name) in listed or any(
                    issubclass(DATA_MODELS[n], value) or issubclass(value, DATA_MODELS[n]) for n in MODEL_PATHS), name


def test_one_lookup_imports_one_model_module() -> None:
    code = ("import json, sys; from renderer.datamodels import DATA_MODELS; "
            f"assert 'juminhyo' in DATA_MODELS and len(list(DATA_MODELS)) == {len(MODEL_PATHS)}; "
            "assert not [m for m in sys.modules if m.startswith('renderer.datamodels.') and m != "
            "'renderer.datamodels.types']; "
            "DATA_MODELS['juminhyo']; "
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('renderer.datamodels.'))))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert "renderer.datamodels.juminhyo" in loaded
    assert not loaded & {"renderer.datamodels.inkan", "renderer.datamodels.shotoku", "renderer.datamodels.tokusoku",
                         "renderer.datamodels.notices", "renderer.datamodels.lists"}
