"""The code follows the project's lint rules (`[tool.ruff]` in pyproject.toml): `ruff check .` is clean."""

import subprocess
import sys

from conftest import REPO


def test_ruff_check_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise", "."], cwd=REPO,
                            check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"`ruff check .` found problems (fix them, or `ruff check --fix`):\n{result.stdout}"
