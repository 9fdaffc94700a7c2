"""The local stack finds the checkout by what it holds, not by how deep its module happens to sit."""

from __future__ import annotations

from pathlib import Path

import pytest
from s3vl_local import stack

CHECKOUT = Path(__file__).resolve().parents[2]


def test_the_editable_install_finds_its_checkout() -> None:
    assert stack.REPO == CHECKOUT
    assert stack.PACKAGE_SCRIPT == CHECKOUT / "source" / "lambda" / "package.sh"


@pytest.mark.parametrize("working_dir", [".", "docs"])
def test_an_installed_copy_finds_the_checkout_it_runs_from(
    working_dir: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed = tmp_path / "lib" / "python3" / "site-packages" / "s3vl_local" / "stack.py"
    monkeypatch.chdir(CHECKOUT / working_dir)
    assert stack._checkout(installed) == CHECKOUT
