"""Static checks of the deployment files: docker-compose.yaml, .env.example, Dockerfile.

No Docker engine is needed. The compose file is read as YAML (anchors and ``<<`` merges resolved
the way compose resolves them); ``${VAR}`` interpolations are checked as text. When the compose
CLI is installed, ``docker compose config -q`` validates the file for real against .env.example.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yaml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
DAG_FILE = REPO_ROOT / "dags" / "credit_risk_monthly.py"

PROJECT_DIR = "/opt/airflow/project"
"""Where the Dockerfile puts the repository (credit_risk.settings.PROJECT_ROOT in the image)."""

BACKING_SERVICES = {"postgres", "redis", "warehouse", "mailpit", "dashboard"}
AIRFLOW_COMMANDS = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-worker": "celery worker",
    "airflow-triggerer": "triggerer",
}
AIRFLOW_SERVICES = {*AIRFLOW_COMMANDS, "airflow-init"}
EXECUTION_API_URL = "http://airflow-apiserver:8080/execution/"
SHARED_SECRETS = (
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API__SECRET_KEY",
)

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}; "$$" escapes a "$".
INTERPOLATION = re.compile(
    r"(?<!\$)\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
)
ONE_INTERPOLATION = re.compile(rf"^{INTERPOLATION.pattern}$")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|WEBHOOK|(^|_)KEY$")
# URL userinfo whose parts may be ${...} interpolations (which contain ":" themselves).
_USER = r"(?:\$\{[^}]*\}|[^:/@\s$])*"
_PASSWORD = r"(?:\$\{[^}]*\}|[^@\s$])+"
URL_CREDENTIALS = re.compile(rf"^[a-z][a-z0-9+.]*://(?P<user>{_USER}):(?P<password>{_PASSWORD})@")
LOCAL_DEFAULTS = {"POSTGRES_PASSWORD": "airflow"}
"""Secrets allowed a fallback value: the metadata DB's, marked LOCAL-ONLY in the compose file."""


@pytest.fixture(scope="module")
def compose_text() -> str:
    return COMPOSE_FILE.read_text()


@pytest.fixture(scope="module")
def compose(compose_text) -> dict:
    return yaml.safe_load(compose_text)


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def airflow_services(services) -> dict:
    return {name: spec for name, spec in services.items() if name.startswith("airflow-")}


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return parse_env_file(ENV_EXAMPLE.read_text())


def parse_env_file(text: str) -> dict[str, str]:
    """KEY=VALUE lines of a dotenv file (comments and blank lines skipped)."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def volume_mounts(service: dict) -> dict[str, str]:
    """Container path -> source of a service's short-syntax volumes."""
    mounts = {}
    for entry in service.get("volumes", []):
        source, target = entry.split(":")[:2]
        mounts[target] = source
    return mounts


def walk_strings(node, path=()):
    """Every string in the compose document with the path of keys/indexes leading to it."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk_strings(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk_strings(value, (*path, str(index)))
    elif isinstance(node, str):
        yield path, node


def secret_problem(value: str) -> str | None:
    """Why a secret value is not a safe ``${VAR}`` reference, or None when it is."""
    match = ONE_INTERPOLATION.match(value)
    if not match:
        return "is a literal, not a ${VAR} reference"
    if match["op"] in (":-", "-") and LOCAL_DEFAULTS.get(match["name"]) != match["arg"]:
        return f"falls back to a literal default ({match['name']})"
    return None


# --- docker-compose.yaml ---------------------------------------------------------------------


def test_compose_parses_and_declares_its_named_volumes(compose):
    assert isinstance(compose, dict)
    assert isinstance(compose.get("services"), dict)
    declared = set(compose.get("volumes") or {})
    for name, spec in compose["services"].items():
        for source in volume_mounts(spec).values():
            if not source.startswith((".", "/", "$")):
                assert source in declared, f"{name}: volume {source!r} is not declared"


def test_compose_has_every_expected_service(services):
    missing = (BACKING_SERVICES | AIRFLOW_SERVICES) - set(services)
    assert not missing, f"missing services: {sorted(missing)}"
    for name, command in AIRFLOW_COMMANDS.items():
        assert services[name]["command"] == command, name


def test_airflow_services_share_one_image_and_build(airflow_services):
    images = {name: spec.get("image") for name, spec in airflow_services.items()}
    builds = {name: spec.get("build") for name, spec in airflow_services.items()}
    assert len(set(images.values())) == 1, images
    assert all(build == {"context": ".", "dockerfile": "Dockerfile"} for build in builds.values())


def test_airflow_services_share_secrets_and_execution_api(airflow_services):
    for key in SHARED_SECRETS:
        values = {name: spec["environment"].get(key) for name, spec in airflow_services.items()}
        assert len(set(values.values())) == 1, f"{key} differs between services: {values}"
        value = next(iter(values.values()))
        assert value and ONE_INTERPOLATION.match(value), f"{key} must come from .env: {value!r}"
    for name, spec in airflow_services.items():
        env = spec["environment"]
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == EXECUTION_API_URL, name
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name


def test_api_server_is_published_on_loopback_only(services):
    assert "127.0.0.1:${AIRFLOW_API_PORT:-8080}:8080" in services["airflow-apiserver"]["ports"]
    for name, spec in services.items():
        for port in spec.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on all interfaces"


def test_warehouse_connection_reaches_the_warehouse_service(airflow_services, services):
    from credit_risk.catalog import WAREHOUSE_CONN_ID

    assert re.search(r"^CONN_ID = WAREHOUSE_CONN_ID$", DAG_FILE.read_text(), re.MULTILINE)
    key = f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}"
    assert key == "AIRFLOW_CONN_CREDIT_RISK_MYSQL"
    warehouse_env = services["warehouse"]["environment"]
    url_pattern = re.compile(
        rf"^mysql://(?P<user>{_USER}):(?P<password>\$\{{[^}}]+\}})@warehouse:3306/(?P<db>\w+)$"
    )
    for name, spec in airflow_services.items():
        url = spec["environment"].get(key)
        assert url, f"{name} has no {key}"
        match = url_pattern.match(url)
        assert match, f"{name}: {key} is not mysql://user:${{PASSWORD}}@warehouse:3306/db: {url}"
        assert match["user"] == warehouse_env["MARIADB_USER"]
        assert match["password"] == warehouse_env["MARIADB_PASSWORD"]
        assert match["db"] == warehouse_env["MARIADB_DATABASE"] == "credit_risk"
        # the credit-risk CLI inside the containers reaches the same warehouse
        assert spec["environment"]["CREDIT_RISK_DB_URL"] == url


def test_warehouse_allows_local_infile_and_uses_a_non_root_user(services):
    warehouse = services["warehouse"]
    image = warehouse["image"]
    assert image.startswith(("mariadb:", "mysql:")), image
    if image.startswith("mysql:"):  # MySQL 8 disables LOAD DATA LOCAL INFILE by default
        assert "--local-infile=1" in warehouse.get("command", []), "mysql needs --local-infile=1"
    env = warehouse["environment"]
    user = env.get("MARIADB_USER") or env.get("MYSQL_USER")
    assert user and "root" not in user.lower()
    assert volume_mounts(warehouse).get("/var/lib/mysql"), "the warehouse data is not persisted"


def test_project_folders_are_mounted_where_the_package_reads_them(airflow_services):
    for name, spec in airflow_services.items():
        mounts = volume_mounts(spec)
        for folder in ("dags", "plugins", "include"):
            target = f"{PROJECT_DIR}/{folder}"
            assert mounts.get(target) == f"./{folder}", f"{name}: ./{folder} not at {target}"
        env = spec["environment"]
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == f"{PROJECT_DIR}/dags", name
        assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == f"{PROJECT_DIR}/plugins", name


def test_data_dir_is_a_named_volume(compose, airflow_services):
    for name, spec in airflow_services.items():
        data_dir = spec["environment"]["CREDIT_RISK_DATA_DIR"]
        source = volume_mounts(spec).get(data_dir)
        assert source in (compose.get("volumes") or {}), f"{name}: {data_dir} is not a volume"


def test_data_docs_written_by_workers_are_served_by_the_api_server(compose, airflow_services):
    """The worker writes Data Docs; the dashboard on the api-server links and serves them."""
    holders = {}
    for name in ("airflow-worker", "airflow-apiserver"):
        spec = airflow_services[name]
        docs_dir = PurePosixPath(spec["environment"]["CREDIT_RISK_DATA_DOCS_DIR"])
        holders[name] = {
            source
            for target, source in volume_mounts(spec).items()
            if source in (compose.get("volumes") or {}) and docs_dir.is_relative_to(target)
        }
        assert holders[name], f"{name}: {docs_dir} is not on a named volume"
    assert holders["airflow-worker"] == holders["airflow-apiserver"]


def settings_variables() -> dict[str, object]:
    """Every ``CREDIT_RISK_*`` variable one of the package's settings classes reads, with its
    default."""
    from credit_risk.alerts import AlertSettings, DeadlineSettings
    from credit_risk.analytics.anomalies import AnomalySettings
    from credit_risk.analytics.model import ModelSettings
    from credit_risk.settings import Settings

    variables = {}
    for settings in (Settings, AlertSettings, DeadlineSettings, AnomalySettings, ModelSettings):
        prefix = settings.model_config.get("env_prefix", "")
        for name, spec in settings.model_fields.items():
            alias = spec.validation_alias
            variables[(alias if isinstance(alias, str) else prefix + name).upper()] = spec.default
    return variables


COMPOSE_OWN_DEFAULTS = {"CREDIT_RISK_ALERT_EMAILS", "CREDIT_RISK_ALERT_FROM_EMAIL"}
"""Settings whose compose default differs from the package's on purpose: the stack has an
SMTP catcher, so its alerts have somewhere to go (the package alone sends none)."""


def test_credit_risk_settings_passed_with_the_package_defaults(airflow_services):
    variables = settings_variables()
    for name, spec in airflow_services.items():
        for key, value in spec["environment"].items():
            if not key.startswith("CREDIT_RISK_"):
                continue
            assert key in variables, f"{name}: {key} is not a setting (pydantic ignores it)"
            match = ONE_INTERPOLATION.match(str(value))
            if match and match["op"] == ":-":
                assert match["name"] == key, f"{name}: {key} reads ${{{match['name']}}}"
                default = variables[key]
                if key in COMPOSE_OWN_DEFAULTS:
                    continue
                if default is None:  # an optional setting: empty means the package's default
                    assert match["arg"] == "", f"{key}: {match['arg']!r}"
                else:
                    assert type(default)(match["arg"]) == default, f"{key}: {match['arg']!r}"
    passed = set(airflow_services["airflow-worker"]["environment"])
    wanted = {
        "CREDIT_RISK_SOURCE",
        "CREDIT_RISK_DATA_DIR",
        "CREDIT_RISK_GENERATE_PROFILE",
        "CREDIT_RISK_GENERATE_CUSTOMERS",
        "CREDIT_RISK_GENERATE_MONTHS",
        "CREDIT_RISK_GENERATE_START",
        "CREDIT_RISK_GENERATE_SEED",
        "CREDIT_RISK_GENERATE_TRANSACTIONS_PER_MONTH",
        "CREDIT_RISK_SHARDS",
        "CREDIT_RISK_HIGH_RISK_RATIO",
        "CREDIT_RISK_MEDIUM_RISK_RATIO",
    }
    assert wanted <= passed, f"not passed to the worker: {sorted(wanted - passed)}"


def test_no_literal_secrets(compose):
    problems = []
    for path, value in walk_strings(compose):
        where = ".".join(path)
        is_secret = len(path) >= 2 and path[-2] == "environment" and SECRET_NAME.search(path[-1])
        if is_secret and (problem := secret_problem(value)):
            problems.append(f"{where} {problem}")
        if credentials := URL_CREDENTIALS.match(value):
            password = credentials["password"]
            if password and (problem := secret_problem(password)):
                problems.append(f"{where}: the URL's password {problem}")
    assert not problems, "\n".join(problems)


def test_only_braced_interpolations(compose_text):
    """Bare $VAR would escape the .env.example check below; $$ is a literal dollar."""
    bare = re.findall(r"(?<!\$)\$(?![{$])[A-Za-z_]\w*", compose_text.replace("$$", ""))
    assert not bare, f"use ${{VAR}} (or $$ for the shell): {bare}"


def test_backing_services_have_healthchecks(services):
    for name in sorted(BACKING_SERVICES | set(AIRFLOW_COMMANDS)):
        test = services[name].get("healthcheck", {}).get("test")
        assert test and test != ["NONE"], f"{name} has no healthcheck"


def test_startup_order(services, airflow_services):
    init = services["airflow-init"]["depends_on"]
    for backend in ("postgres", "redis"):
        assert init.get(backend, {}).get("condition") == "service_healthy", backend
    for name in AIRFLOW_COMMANDS:
        condition = services[name]["depends_on"].get("airflow-init", {}).get("condition")
        assert condition == "service_completed_successfully", name
    worker = services["airflow-worker"]["depends_on"]
    assert worker["warehouse"]["condition"] == "service_healthy"
    for name, spec in services.items():
        for dependency, rule in (spec.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if rule.get("condition") == "service_healthy":
                assert services[dependency].get("healthcheck"), f"{dependency} has no healthcheck"


# --- .env.example ------------------------------------------------------------------------------


def test_env_example_defines_every_required_variable(compose_text, env_example):
    required = {
        m["name"] for m in INTERPOLATION.finditer(compose_text) if m["op"] in (None, "?", ":?")
    }
    assert required, "expected required variables (secrets) in the compose file"
    missing = sorted(name for name in required if not env_example.get(name))
    assert not missing, f".env.example lacks (or leaves empty): {missing}"


def test_env_example_documents_every_compose_variable(compose_text):
    text = ENV_EXAMPLE.read_text()
    mentioned = set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", text, re.MULTILINE))
    used = {m["name"] for m in INTERPOLATION.finditer(compose_text)}
    assert not used - mentioned, f"not in .env.example: {sorted(used - mentioned)}"


def test_env_example_holds_placeholders_only(env_example):
    for key, value in env_example.items():
        credentials = URL_CREDENTIALS.match(value)
        secret = value if SECRET_NAME.search(key) else credentials and credentials["password"]
        if secret and secret not in LOCAL_DEFAULTS.values():
            assert re.search("change-?me|placeholder", secret, re.IGNORECASE), (
                f"{key} in .env.example looks like a real secret; use a change-me placeholder"
            )


def test_env_example_lists_project_and_alerting_variables(env_example):
    text = ENV_EXAMPLE.read_text()
    for key in (
        "AIRFLOW_UID",
        "CREDIT_RISK_DB_URL",
        "CREDIT_RISK_SOURCE",
        "CREDIT_RISK_GENERATE_PROFILE",
        "CREDIT_RISK_HIGH_RISK_RATIO",
        "CREDIT_RISK_MEDIUM_RISK_RATIO",
        "AIRFLOW_CONN_SMTP_DEFAULT",
        "CREDIT_RISK_ALERT_EMAILS",
        "AIRFLOW_CONN_CREDIT_RISK_SLACK",
        "CREDIT_RISK_REFRESH_DEADLINE_HOURS",
    ):
        assert key in env_example, key
    assert 'docs/operations.md, "Alerts"' in text
    assert re.search(r"^#?\s*CREDIT_RISK_DATA_DIR=", text, re.MULTILINE)


# --- Dockerfile and .dockerignore --------------------------------------------------------------


def dockerfile_instructions() -> list[str]:
    """Instructions with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n(\s*#.*\n)*", " ", DOCKERFILE.read_text())
    return [
        " ".join(line.split())
        for line in joined.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def test_dockerfile_installs_pinned_requirements_with_constraints():
    steps = dockerfile_instructions()
    airflow_pin = re.search(
        r"^apache-airflow==(\S+)", (REPO_ROOT / "requirements.txt").read_text(), re.MULTILINE
    )[1]
    assert f"ARG AIRFLOW_VERSION={airflow_pin}" in steps
    assert any(s.startswith("FROM apache/airflow:${AIRFLOW_VERSION}-python") for s in steps)

    def index(pattern: str) -> int:
        found = [i for i, step in enumerate(steps) if re.search(pattern, step)]
        assert found, f"no Dockerfile step matches {pattern!r}"
        return found[0]

    apt = index(r"^RUN .*apt-get install .*gcc .*pkg-config .*default-libmysqlclient-dev")
    root = index(r"^USER root$")
    airflow_user = index(r"^USER airflow$")
    copy_requirements = index(r"^COPY .*requirements\.txt .*constraints\.txt")
    install = index(
        r"^RUN pip install .*\"apache-airflow==\$\{AIRFLOW_VERSION\}\" "
        r"-r requirements\.txt -c constraints\.txt"
    )
    copy_src = index(r"^COPY .*src/")
    install_package = index(r"^RUN pip install .*--no-deps -e \.")
    assert root < apt < airflow_user < install, "apt as root, then pip as the airflow user"
    assert copy_requirements < install < copy_src < install_package, "not cache-friendly"
    assert f"WORKDIR {PROJECT_DIR}" in steps[:install_package]


def test_dockerignore_keeps_local_state_out_of_the_image():
    patterns = {line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip()}
    for needed in (".venv", "data", ".airflow", ".git", ".env", "**/__pycache__"):
        assert needed in patterns, needed
    copied = set()
    for step in dockerfile_instructions():
        if step.startswith("COPY "):
            copied.update(part.rstrip("/") for part in step.split()[1:-1] if "--" not in part)
    assert not copied & patterns, f".dockerignore excludes what the Dockerfile copies: {copied}"


# --- docker compose config (needs the compose CLI, not an engine) -----------------------------


def compose_cli() -> list[str] | None:
    """The compose command line here: the docker plugin, else standalone docker-compose."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def run_compose_config(tmp_path: Path, env_text: str, *extra: str):
    cli = compose_cli()
    if cli is None:
        pytest.skip(
            "no compose CLI: neither the `docker compose` plugin nor `docker-compose` is "
            "installed; the static checks in this file still ran"
        )
    env_file = tmp_path / "compose.env"
    env_file.write_text(env_text)
    referenced = {m["name"] for m in INTERPOLATION.finditer(COMPOSE_FILE.read_text())}
    # Only the env file may supply the compose variables (the shell would take precedence).
    env = {key: value for key, value in os.environ.items() if key not in referenced}
    return subprocess.run(
        [
            *cli,
            "--project-directory",
            str(REPO_ROOT),
            "-f",
            str(COMPOSE_FILE),
            "--env-file",
            str(env_file),
            *extra,
            "config",
            "-q",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )


def test_docker_compose_config_accepts_env_example(tmp_path):
    result = run_compose_config(tmp_path, ENV_EXAMPLE.read_text(), "--profile", "cli")
    assert result.returncode == 0, result.stderr


def test_docker_compose_config_refuses_missing_secrets(tmp_path):
    result = run_compose_config(tmp_path, "")
    assert result.returncode != 0
    assert "in .env" in result.stderr, result.stderr


def test_env_example_alert_connections_parse_as_airflow_connections(env_example):
    """The examples an operator copies must be connections the alert channels can use."""
    from airflow.models.connection import Connection

    slack = Connection(uri=env_example["AIRFLOW_CONN_CREDIT_RISK_SLACK"])
    assert (slack.conn_type, slack.host, slack.schema) == ("slackwebhook", "", "")
    assert slack.password  # the webhook token: the hook posts to hooks.slack.com/services/<it>
    smtp = Connection(uri=env_example["AIRFLOW_CONN_SMTP_DEFAULT"])
    assert (smtp.conn_type, smtp.host, smtp.port) == ("smtp", "mailpit", 1025)
    # plain SMTP: the hook would otherwise open an SSL connection the catcher does not speak
    assert smtp.extra_dejson == {"disable_ssl": True, "disable_tls": True}
    relay = re.search(r"^#\s*AIRFLOW_CONN_SMTP_DEFAULT=(\S+)", ENV_EXAMPLE.read_text(), re.M)
    assert relay, "the example of a real relay is gone"
    assert (Connection(uri=relay[1]).conn_type, Connection(uri=relay[1]).port) == ("smtp", 587)


# --- the alert catcher, the standalone dashboard and scaling the workers --------------------


def test_alert_emails_go_to_the_mailpit_catcher_by_default(services, airflow_services):
    """Out of the box the alerts are visible (mailpit's UI) instead of going nowhere."""
    mailpit = services["mailpit"]
    assert re.fullmatch(r"axllent/mailpit:v\d+\.\d+\.\d+", mailpit["image"])  # pinned
    assert mailpit["healthcheck"]["test"] == ["CMD", "/mailpit", "readyz"]
    assert mailpit["ports"] == ["127.0.0.1:${MAILPIT_UI_PORT:-8025}:8025"]
    for name, spec in airflow_services.items():
        env = spec["environment"]
        smtp = INTERPOLATION.fullmatch(env["AIRFLOW_CONN_SMTP_DEFAULT"])
        assert smtp and smtp["op"] == ":-", name
        assert smtp["arg"].startswith("smtp://mailpit:1025?"), name
        assert "disable_ssl=true" in smtp["arg"] and "disable_tls=true" in smtp["arg"], name
        recipients = INTERPOLATION.fullmatch(env["CREDIT_RISK_ALERT_EMAILS"])
        assert recipients and "@" in recipients["arg"], name
    worker = services["airflow-worker"]["depends_on"]
    assert worker["mailpit"]["condition"] == "service_healthy"


def test_the_dashboard_service_reads_as_the_read_only_user(services):
    """It never gets the loader's URL: only the read-only user's, whose grants the one-shot
    warehouse-users service sets (credit-risk create-users) before it starts."""
    dashboard = services["dashboard"]
    env = dashboard["environment"]
    assert "credit-risk dashboard --host 0.0.0.0 --port 8050" in " ".join(dashboard["command"])
    url = env["CREDIT_RISK_DASHBOARD_DB_URL"]
    assert url.startswith("mysql://${DASHBOARD_USER:-credit_risk_dashboard}:${DASHBOARD_PASSWORD")
    assert url.endswith("@warehouse:3306/credit_risk")
    assert not {"CREDIT_RISK_DB_URL", "AIRFLOW_CONN_CREDIT_RISK_MYSQL"} & set(env)
    assert dashboard["ports"] == ["127.0.0.1:${DASHBOARD_PORT:-8050}:8050"]
    assert "http://localhost:8050/api/health" in dashboard["healthcheck"]["test"]
    assert dashboard["depends_on"] == {
        "warehouse-users": {"condition": "service_completed_successfully"}
    }
    assert volume_mounts(dashboard) == {f"{PROJECT_DIR}/data": "credit-risk-data"}

    users = services["warehouse-users"]
    command = " ".join(users["command"])
    assert command.endswith(
        'credit-risk create-users --loader-user "$${WAREHOUSE_USER}" '
        '--dashboard-user "$${DASHBOARD_USER}"'
    )
    users_env = users["environment"]
    assert users_env["CREDIT_RISK_ADMIN_DB_URL"].startswith(
        "mysql://root:${WAREHOUSE_ROOT_PASSWORD"
    )
    # the loader keeps the password the DAG's connection uses
    assert users_env["CREDIT_RISK_LOADER_PASSWORD"].startswith("${WAREHOUSE_PASSWORD")
    assert (
        users_env["DASHBOARD_USER"]
        == env["CREDIT_RISK_DASHBOARD_DB_URL"].split("//")[1].split(":$")[0]
    )
    assert users["depends_on"] == {"warehouse": {"condition": "service_healthy"}}
    assert users["restart"] == "no"


def test_workers_scale_with_compose_up_scale(services):
    """``docker compose up --scale airflow-worker=N`` needs workers that differ only by their
    container: no fixed name, hostname or host port, and a Celery node name taken from the
    hostname (each container's own)."""
    worker = services["airflow-worker"]
    assert not {"container_name", "hostname", "ports"} & set(worker)
    assert "celery@$${HOSTNAME}" in " ".join(worker["healthcheck"]["test"])
    assert "--scale airflow-worker=" in COMPOSE_FILE.read_text()
