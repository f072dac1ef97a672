"""Every shell script in the repository passes shellcheck."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.deploy.conftest import require_tool, run

# Virtual environments (any folder with a pyvenv.cfg), caches, training runs and outputs hold
# no scripts of this project.
SKIPPED = {".git", ".cache", "runs", "out", "build", "dist"}


def is_shell_script(path: Path) -> bool:
    if path.suffix == ".sh":
        return True
    if path.suffix or not path.is_file():
        return False
    with path.open("rb") as f:
        first = f.readline(100).split()
    return bool(first) and first[0].startswith(b"#!") and first[-1].split(b"/")[-1] in (b"bash", b"sh")


def shell_scripts() -> list[Path]:
    scripts = []
    for folder, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in SKIPPED and not Path(folder, d, "pyvenv.cfg").exists()]
        scripts += [Path(folder, name) for name in files if is_shell_script(Path(folder, name))]
    return sorted(scripts)


SCRIPTS = shell_scripts()


def test_the_deploy_scripts_are_found() -> None:
    names = {p.relative_to(REPO).as_posix() for p in SCRIPTS}
    assert {"device/deploy/install.sh", "device/deploy/deploy.sh", "tests/deploy/fake_target/ssh",
            ".ci/run", ".ci/system_tools.sh"} <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_shellcheck(script: Path) -> None:
    shellcheck = require_tool("shellcheck", "apt install shellcheck")
    result = run([shellcheck, "--external-sources", script])
    assert result.returncode == 0, result.stdout + result.stderr
