"""Tests for the packaging in ``pyproject.toml``: what the wheel installs, and that it shadows no user module.

The repo's ``envs/`` folder installs as ``morl.builtin_envs``. A top-level ``envs`` package in the wheel would
shadow (or be shadowed by) any user module named ``envs``, and then ``morl/`` ids stop resolving.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORRIDOR = "morl/treasure-corridor-v0"
# A user's own module named `envs`, first on sys.path (the current directory, as `python script.py` puts it).
USER_ENVS = "WHO = 'user'\n"
PROBE = f"""
import envs
import morl.envs

env = morl.envs.make({CORRIDOR!r})
assert env.reward_space.shape == (2,), env.reward_space
assert {CORRIDOR!r} in morl.envs.registered_ids()
assert envs.WHO == "user", envs.__file__
import morl.builtin_envs as ours

print(ours.__file__)
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel that ``pip install .`` would build, from a copy of the sources (the checkout stays untouched)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    for folder in ("morl", "envs"):
        shutil.copytree(REPO / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path_factory.mktemp("dist")
    build = "import sys; from setuptools import build_meta; print(build_meta.build_wheel(sys.argv[1]))"
    done = subprocess.run([sys.executable, "-c", build, str(dist)], cwd=src, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return dist / done.stdout.strip().splitlines()[-1]


def _top_level(names: list[str]) -> set[str]:
    return {name.split("/", 1)[0] for name in names if not name.split("/", 1)[0].endswith(".dist-info")}


def test_wheel_installs_morl_only(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    assert _top_level(names) == {"morl"}, f"the wheel installs top-level {sorted(_top_level(names))}"
    assert {"morl/builtin_envs/__init__.py", "morl/builtin_envs/treasure_corridor.py"} <= set(names)
    assert any(name.startswith("morl/agents/presets/") and name.endswith(".yaml") for name in names)


def test_wheel_holds_the_report_pages_script_and_styles(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"morl/report/static/report.js", "morl/report/static/report.css"} <= names  # package-data in pyproject


def test_wheel_holds_every_subpackage(wheel: Path):
    # pyproject.toml lists packages by hand (morl.builtin_envs comes from another folder): none may be forgotten.
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = [init.parent.relative_to(REPO).as_posix() for init in (REPO / "morl").rglob("__init__.py")]
    missing = [pkg.replace("/", ".") for pkg in packages if f"{pkg}/__init__.py" not in names]
    assert not missing, f"add {missing} to [tool.setuptools] packages in pyproject.toml"


def _probe(cwd: Path, pythonpath: list[Path]) -> subprocess.CompletedProcess[str]:
    (cwd / "envs.py").write_text(USER_ENVS)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in pythonpath)}
    return subprocess.run([sys.executable, "-c", PROBE], cwd=cwd, env=env, capture_output=True, text=True)


def test_installed_wheel_ignores_a_user_module_named_envs(wheel: Path, tmp_path: Path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    user = tmp_path / "user"
    user.mkdir()
    done = _probe(user, [site])
    assert done.returncode == 0, done.stderr[-3000:]
    assert Path(done.stdout.strip()).is_relative_to(site), done.stdout  # the wheel's copy, not the checkout's


def test_this_install_ignores_a_user_module_named_envs(tmp_path: Path):
    # Whatever way morl is installed in this interpreter (the README's: editable).
    done = _probe(tmp_path, [])
    assert done.returncode == 0, done.stderr[-3000:]
