"""The README's first screen stays true: its two commands and its example."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_the_first_screen_has_the_playground_and_test_commands() -> None:
    first_block = re.search(r"```bash\n(.*?)```", README, re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).strip().splitlines()]
    assert commands == [
        'pip install -e ".[notebook]" && jacws playground',
        'pip install -e ".[test]" && python -m pytest',
    ]
    assert "python -m pytest" in (ROOT / ".ci" / "run").read_text()


def test_the_example_runs() -> None:
    example = re.search(r"```python\n(.*?)```", README, re.S)
    assert example is not None
    result = subprocess.run([sys.executable, "-c", example.group(1)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_the_api_example_defines_a_working_walker() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    api = next(block for block in blocks if "class post(Walker)" in block)
    driver = (
        "\nimport jacws\n"
        "with jacws.start() as server:\n"
        "    client = server.client(user='readme@example.com')\n"
        "    answer = client.walker('post', text='hi').result()\n"
        "    assert answer['reports'][0]['context'] == {'text': 'hi', 'likes': 0}, answer\n"
    )
    result = subprocess.run([sys.executable, "-c", api + driver], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_the_testing_example_passes_with_the_installed_plugin(tmp_path: Path) -> None:
    section = README.split("## Testing your walkers", 1)[1]
    example = re.search(r"```python\n(.*?)```", section, re.S)
    assert example is not None
    (tmp_path / "test_walkers.py").write_text(example.group(1))
    quickstart = (ROOT / "tests" / "session_walkers.py").read_text().replace("s_greet", "greet")
    (tmp_path / "walkers.py").write_text(quickstart)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_walkers.py"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout + result.stderr
