"""The README's scripted set-up commands run as written: with the project's virtualenv and DEBUG=1 (no
"SECRET_KEY is not set"), and each one does what the README says it prints."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def scripted_setup_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Scripted set-up", 1)[1].split("\n### ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if "manage.py" in line]


def test_readme_commands_use_the_virtualenv_and_debug():
    commands = scripted_setup_commands()
    assert len(commands) == 3
    for command in commands:
        assert command.startswith("DEBUG=1 .venv/bin/python manage.py "), command


@pytest.mark.slow
def test_readme_create_source_runs_as_written(tmp_path):
    # given a fresh database, migrated as `make run` does
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE"}}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'readme.sqlite3'}"
    python = [sys.executable, "manage.py"]
    subprocess.run([*python, "migrate", "-v0"], cwd=ROOT, env={**env, "DEBUG": "1"}, check=True)
    command = shlex.split(scripted_setup_commands()[0].split(" [")[0])  # without the optional part
    assert command[:3] == ["DEBUG=1", ".venv/bin/python", "manage.py"]
    # when run as the README says (the virtualenv's python is this one)
    done = subprocess.run(
        [*python, *command[3:]], cwd=ROOT, env={**env, "DEBUG": "1"}, capture_output=True, text=True
    )
    # then it prints the credentials; without DEBUG (and no SECRET_KEY) it says why it stops
    assert done.returncode == 0, done.stderr
    key_secret, write_key = done.stdout.strip().splitlines()[-2:]
    assert key_secret.endswith(":" + write_key)
    refused = subprocess.run([*python, *command[3:]], cwd=ROOT, env=env, capture_output=True, text=True)
    assert refused.returncode != 0 and "SECRET_KEY is not set" in refused.stderr
