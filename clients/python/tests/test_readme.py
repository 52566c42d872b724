"""The README's examples of the client run as printed (against the test server)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import People
from provost_server import ProvostServer

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_client_examples_run(server: ProvostServer, people: People) -> None:
    # The first two blocks are whole programs (sync, then async); the others are fragments.
    for block in python_blocks()[:2]:
        program = block.replace("http://127.0.0.1:8080", server.url)
        done = subprocess.run(
            [sys.executable, "-c", program],
            env={**os.environ, "TOKEN": people.admin},
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        assert "True" in done.stdout
