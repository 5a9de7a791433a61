"""The deployment files of deploy/: the image, the compose file, the Helm values and the receiver's
manifests. Images cannot be built here, so what can be checked without Docker or a cluster is:
they parse; every variable they name is one the project reads, and every required one is there;
no secret is written in them; what the Dockerfile copies exists and reaches the build; the commands
they start are the project's real commands (each runs with `--help`, its options parsed); the
Kubernetes objects match the API's models; the Dagster instances load with Dagster's schema."""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "docker-compose.yaml"
ENV_EXAMPLE = DEPLOY / "env.example"
VALUES = DEPLOY / "helm" / "values.yaml"
RECEIVER = DEPLOY / "helm" / "receiver.yaml"
BIN = Path(sys.executable).parent
# Where the Dockerfile puts the repository's files in the image (WORKDIR).
IMAGE_ROOT = "/app"
# The release name of the documented `helm upgrade --install dagster dagster/dagster`.
HELM_RELEASE = "dagster"

NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
# Variables the deployment files may name that the package does not read, each for a reason.
INFRASTRUCTURE_VARIABLES = {
    "POSTGRES_USER": "the postgres image's own setting (compose)",
    "POSTGRES_DB": "the postgres image's own setting (compose)",
    "POSTGRES_PASSWORD": "the postgres image's own setting (compose); the URLs hold the same password",
    "SYNC_ASSETS_IMAGE": "the compose file's choice of image, read by compose only",
    "HOSTNAME": "set by the container runtime; the Celery worker's healthcheck names the worker with it",
    "PYTHONDONTWRITEBYTECODE": "Python's own, set in the image",
    "PYTHONUNBUFFERED": "Python's own, set in the image: log lines leave at once",
    "PIP_DISABLE_PIP_VERSION_CHECK": "pip's own, while the image is built",
}
# Read by the project but set for it, not by whoever deploys: so not in env.example.
SET_FOR_THE_PROJECT = {
    "DAGSTER_HOME": "the image sets it (deploy/Dockerfile), the Helm chart sets the same folder",
    "SYNC_SQL_DIR": "the image sets it to its copy of sql/",
    "SYNC_LOCAL_DIR": "local state of a developer's machine (the embedded PostgreSQL), unused in a deployment",
    "PROMETHEUS_MULTIPROC_DIR": "the receiver makes its own folder when it runs several workers",
}
# Variables whose values are credentials: empty in env.example, in the Kubernetes Secret, never in
# a file of the repository.
SECRET_VARIABLES = {
    "SYNC_DATABASE_URL",
    "DAGSTER_POSTGRES_URL",
    "SYNC_SECRET_KEY",
    "RDVSP_CLIENT_ID",
    "RDVSP_CLIENT_SECRET",
    "SENTRY_DSN",
    "POSTGRES_PASSWORD",
}
# Required in a deployment: never the embedded PostgreSQL (SYNC_DATABASE_URL), so SYNC_SECRET_KEY
# is required, and Dagster's storage named explicitly (DAGSTER_POSTGRES_URL).
REQUIRED_VARIABLES = {"SYNC_DATABASE_URL", "SYNC_SECRET_KEY", "DAGSTER_POSTGRES_URL"}
# What a sync of each API needs (README, "Configuration"): named by every deployment, even empty.
CONNECTOR_VARIABLES = {
    "RDVSP_BASE_URL",
    "RDVSP_CLIENT_ID",
    "RDVSP_CLIENT_SECRET",
    "RDVSP_WEBHOOK_URL",
    "DOCTOLIB_BASE_URL",
}


# --- what the package reads ------------------------------------------------------------------


def _doctolib_key_prefix() -> str:
    from sync_assets.doctolib.client import KEY_PREFIX

    return KEY_PREFIX


def _is_environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id == "environ") or (
        isinstance(node, ast.Attribute) and node.attr == "environ"
    )


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    return call.func.attr if isinstance(call.func, ast.Attribute) else None


def _read_argument(node: ast.AST) -> ast.AST | None:
    """The expression naming the variable `node` reads from the environment, if it reads one:
    `os.environ.get(…)`, `environ.get(…)`, `os.environ[…]`, `os.getenv(…)`, `EnvVar(…)`."""
    if isinstance(node, ast.Call) and node.args:
        function = node.func
        if isinstance(function, ast.Attribute) and function.attr in ("get", "pop", "setdefault"):
            return node.args[0] if _is_environ(function.value) else None
        if _callee(node) in ("getenv", "EnvVar"):
            return node.args[0]
    if isinstance(node, ast.Subscript) and _is_environ(node.value) and isinstance(node.ctx, ast.Load):
        return node.slice
    return None


def variables_read_by_the_package() -> set[str]:
    """Every variable the package reads, found in its source: direct reads, and calls of the
    package's own helpers that read the variable named by one of their parameters
    (`require_env("RDVSP_CLIENT_ID", …)`, `retention_days("SYNC_TOMBSTONE_RETENTION_DAYS", …)`)."""
    modules = []
    for path in sorted((REPO / "sync_assets").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        constants = {
            target.id: statement.value.value
            for statement in tree.body
            if isinstance(statement, ast.Assign)
            and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str)
            for target in statement.targets
            if isinstance(target, ast.Name)
        }
        modules.append((tree, constants))

    def name_of(node: ast.AST | None, constants: dict[str, str]) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            value: str | None = node.value
        elif isinstance(node, ast.Name):
            value = constants.get(node.id)
        else:
            value = None
        return value if value and NAME.match(value) else None

    read: set[str] = set()
    helpers: dict[str, tuple[int, str]] = {}
    for tree, constants in modules:
        for node in ast.walk(tree):
            if name := name_of(_read_argument(node), constants):
                read.add(name)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                parameters = [argument.arg for argument in node.args.posonlyargs + node.args.args]
                with_default = parameters[len(parameters) - len(node.args.defaults) :]
                defaults = dict(zip(with_default, node.args.defaults, strict=True))
                for inner in ast.walk(node):
                    argument = _read_argument(inner)
                    if isinstance(argument, ast.Name) and argument.id in parameters:
                        helpers[node.name] = (parameters.index(argument.id), argument.id)
                        if name := name_of(defaults.get(argument.id), constants):
                            read.add(name)
    for tree, constants in modules:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and (callee := _callee(node)) in helpers:
                index, parameter = helpers[callee]
                given = [keyword.value for keyword in node.keywords if keyword.arg == parameter] or node.args[index:]
                if given and (name := name_of(given[0], constants)):
                    read.add(name)
    return read


@pytest.fixture(scope="module")
def project_variables() -> set[str]:
    read = variables_read_by_the_package()
    # The collector itself: it must find what the README documents, whichever way each is read.
    assert {
        "SYNC_DATABASE_URL",
        "DAGSTER_POSTGRES_URL",
        "SYNC_SECRET_KEY",
        "RDVSP_BASE_URL",
        "RDVSP_CLIENT_SECRET",
        "RDVSP_REQUESTS_PER_MINUTE",
        "DOCTOLIB_BASE_URL",
        "SYNC_RAW_RETENTION_DAYS",
        "SYNC_TOMBSTONE_RETENTION_DAYS",
        "SYNC_CELERY_BROKER_URL",
        "SENTRY_DSN",
        "DAGSTER_HOME",
    } <= read
    return read


def _is_project_variable(name: str, project_variables: set[str]) -> bool:
    return name in project_variables or (
        name.startswith(_doctolib_key_prefix()) and len(name) > len(_doctolib_key_prefix())
    )


# --- the files, parsed -----------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def _values() -> dict[str, Any]:
    return yaml.safe_load(VALUES.read_text(encoding="utf-8"))


def _receiver_documents() -> dict[str, dict[str, Any]]:
    documents = [document for document in yaml.safe_load_all(RECEIVER.read_text(encoding="utf-8")) if document]
    return {document["kind"]: document for document in documents}


def _code_location() -> dict[str, Any]:
    [deployment] = _values()["dagster-user-deployments"]["deployments"]
    return deployment


def _env_example() -> dict[str, str]:
    """Each `NAME=value` of env.example, commented examples (`# NAME=value`) included."""
    entries = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            entries[match.group(1)] = match.group(2).strip()
    return entries


def _env_example_set() -> dict[str, str]:
    """The variables env.example sets (its uncommented lines)."""
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def _dockerfile_env() -> dict[str, str]:
    env = {}
    for keyword, rest in _dockerfile_instructions():
        if keyword == "ENV":
            env.update(dict(item.split("=", 1) for item in shlex.split(rest)))
    return env


def _dockerfile_copies() -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY, destinations made absolute against WORKDIR."""
    copies, workdir = [], "/"
    for keyword, rest in _dockerfile_instructions():
        if keyword == "WORKDIR":
            workdir = rest
        elif keyword == "COPY":
            *sources, destination = [part for part in shlex.split(rest) if not part.startswith("--")]
            if not destination.startswith("/"):
                destination = f"{workdir.rstrip('/')}/{destination}"
            copies.append((sources, destination))
    return copies


def _files_in_the_image() -> dict[str, Path]:
    """Image path -> repository path, for what the Dockerfile copies under its WORKDIR."""
    image: dict[str, Path] = {}
    for sources, destination in _dockerfile_copies():
        for source in sources:
            if not destination.startswith(IMAGE_ROOT):
                continue
            # A folder's content goes into the destination; a file into it, under its own name,
            # when the destination ends with a slash.
            if (REPO / source).is_dir() or not destination.endswith("/"):
                target = destination
            else:
                target = destination + Path(source).name
            image[target.rstrip("/")] = REPO / source.rstrip("/")
    return image


def _in_the_repository(image_path: str) -> Path:
    """The repository file an image path under /app comes from (it must be copied there)."""
    for target, source in sorted(_files_in_the_image().items(), key=lambda item: -len(item[0])):
        if image_path == target or image_path.startswith(target + "/"):
            return source / image_path[len(target) :].lstrip("/") if image_path != target else source
    raise AssertionError(f"{image_path} is not copied into the image by deploy/Dockerfile")


def _project_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run the project's image (the anchor `x-sync-assets`)."""
    image = compose["x-sync-assets"]["image"]
    return {name: service for name, service in compose["services"].items() if service.get("image") == image}


def _walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def _kubernetes_env_names(value: Any) -> set[str]:
    """Names of `env` entries and keys of `secretKeyRef`/`configMapKeyRef` anywhere in `value`."""
    names = set()
    for node in _walk(value):
        if isinstance(node, dict):
            for entry in node.get("env", []) if isinstance(node.get("env"), list) else []:
                names.add(entry["name"])
            for reference in ("secretKeyRef", "configMapKeyRef"):
                if isinstance(node.get(reference), dict):
                    names.add(node[reference]["key"])
    return names


def _secret_keys_of_the_helm_instructions() -> set[str]:
    """The keys of the Secret `sync-assets-secrets` as values.yaml says to create it."""
    text = VALUES.read_text(encoding="utf-8")
    command = text[text.index("kubectl create secret generic sync-assets-secrets") :]
    command = command[: command.index("kubectl create secret generic dagster-postgresql-secret")]
    return set(re.findall(r"--from-literal=([A-Z][A-Z0-9_]*)=", command))


# --- parsing, names, secrets -----------------------------------------------------------------


def test_the_files_parse():
    assert _compose()["services"]
    assert _values()["dagster-user-deployments"]["deployments"]
    assert set(_receiver_documents()) == {"ConfigMap", "Deployment", "Service"}
    assert _env_example()
    assert yaml.safe_load((DEPLOY / "workspace.yaml").read_text(encoding="utf-8"))["load_from"]


def _names_in_compose() -> set[str]:
    compose = _compose()
    text = COMPOSE.read_text(encoding="utf-8")
    names = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text)) | set(
        re.findall(r"\$\$([A-Za-z_][A-Za-z0-9_]*)", text)
    )
    for service in [compose["x-sync-assets"], *compose["services"].values()]:
        names |= set(service.get("environment") or {})
    return names


def _names_in_dockerfile() -> set[str]:
    text = DOCKERFILE.read_text(encoding="utf-8")
    return set(_dockerfile_env()) | set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", text))


def _names_in_helm() -> set[str]:
    receiver = _receiver_documents()
    return (
        _kubernetes_env_names(_values())
        | _kubernetes_env_names(receiver)
        | set(receiver["ConfigMap"]["data"])
        | _secret_keys_of_the_helm_instructions()
    )


@pytest.mark.parametrize(
    "file, names",
    [
        ("docker-compose.yaml", _names_in_compose),
        ("env.example", lambda: set(_env_example())),
        ("helm/values.yaml and helm/receiver.yaml", _names_in_helm),
        ("Dockerfile", _names_in_dockerfile),
    ],
)
def test_every_variable_named_is_one_the_project_reads(file, names, project_variables):
    unknown = {name for name in names() if not _is_project_variable(name, project_variables)} - set(
        INFRASTRUCTURE_VARIABLES
    )
    assert not unknown, f"deploy/{file} names variables the project does not read: {sorted(unknown)}"


def test_env_example_lists_every_variable_a_deployment_sets(project_variables):
    documented = set(_env_example())
    missing = {name for name in project_variables - set(SET_FOR_THE_PROJECT) if name not in documented}
    assert not missing, f"deploy/env.example does not list {sorted(missing)} (README, Configuration, explains them)"
    assert any(name.startswith(_doctolib_key_prefix()) for name in documented), "an example Doctolib key line"
    assert set(_env_example_set()) >= REQUIRED_VARIABLES | CONNECTOR_VARIABLES


def test_compose_requires_the_required_variables():
    """Compose refuses to start without them (`${VAR:?…}`), and hands them to every project service."""
    compose = _compose()
    environment = compose["x-sync-assets"]["environment"]
    for name in REQUIRED_VARIABLES:
        assert re.fullmatch(rf"\$\{{{name}:\?[^}}]+\}}", environment[name]), name
    assert re.fullmatch(
        r"\$\{POSTGRES_PASSWORD:\?[^}]+\}", compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"]
    )
    for name, service in _project_services(compose).items():
        assert service["environment"] == environment, name
        assert service["env_file"] == ".env.deploy", name
    # The same file: compose reads it with --env-file (its checks) and hands it to the containers.
    header = COMPOSE.read_text(encoding="utf-8").split("\nname:")[0]
    assert "--env-file deploy/.env.deploy" in header
    assert ".env.deploy" in (REPO / ".gitignore").read_text(encoding="utf-8").split()


def test_kubernetes_gets_every_variable_a_deployment_sets(project_variables):
    """The Secret (as values.yaml says to create it) and the ConfigMap together hold every variable
    a deployment sets, each in one of them, the credentials in the Secret."""
    secret = _secret_keys_of_the_helm_instructions()
    config = set(_receiver_documents()["ConfigMap"]["data"])
    assert not secret & config
    expected = project_variables - set(SET_FOR_THE_PROJECT) - {"SYNC_CELERY_BROKER_URL"}  # runs are Jobs, not Celery
    missing = {name for name in expected if name not in secret | config}
    assert not missing, f"neither the Secret nor the ConfigMap holds {sorted(missing)}"
    assert any(name.startswith(_doctolib_key_prefix()) for name in secret)
    credentials = {name for name in config if name in SECRET_VARIABLES or name.startswith(_doctolib_key_prefix())}
    assert not credentials, f"credentials in the ConfigMap: {sorted(credentials)}"
    assert secret >= REQUIRED_VARIABLES


def test_kubernetes_pods_require_the_required_variables():
    """Named one by one from the Secret, a missing required key stops the pod with its name: the
    code location (and its runs), its migrations, the receiver. Each also gets the whole Secret and
    the ConfigMap, and so does every run."""
    location = _code_location()
    [migrate] = location["initContainers"]
    receiver = _receiver_documents()["Deployment"]["spec"]["template"]["spec"]["containers"][0]

    def required(env: list[dict[str, Any]]) -> set[str]:
        return {
            entry["name"]
            for entry in env
            if entry["valueFrom"]["secretKeyRef"] == {"name": "sync-assets-secrets", "key": entry["name"]}
        }

    assert required(location["env"]) == REQUIRED_VARIABLES
    assert required(receiver["env"]) >= {"SYNC_DATABASE_URL", "SYNC_SECRET_KEY"}
    assert "SYNC_DATABASE_URL" in required(migrate["env"])
    whole = [{"configMapRef": {"name": "sync-assets-config"}}, {"secretRef": {"name": "sync-assets-secrets"}}]
    assert migrate["envFrom"] == whole
    assert receiver["envFrom"] == whole
    assert location["envConfigMaps"] == [{"name": "sync-assets-config"}]
    assert location["envSecrets"] == [{"name": "sync-assets-secrets"}]
    assert location["includeConfigInLaunchedRuns"] == {"enabled": True}
    launcher = _values()["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    assert launcher["config"]["k8sRunLauncher"]["envConfigMaps"] == [{"name": "sync-assets-config"}]
    assert launcher["config"]["k8sRunLauncher"]["envSecrets"] == [{"name": "sync-assets-secrets"}]
    assert _receiver_documents()["ConfigMap"]["metadata"]["name"] == "sync-assets-config"


def test_no_secret_is_written_in_the_deployment_files():
    example = _env_example()
    filled = {
        name: value
        for name, value in example.items()
        if (name in SECRET_VARIABLES or name.startswith(_doctolib_key_prefix())) and value
    }
    assert not filled, f"env.example gives credentials a value: {sorted(filled)}"
    # In compose, a credential is only ever taken from the environment.
    for service in [_compose()["x-sync-assets"], *_compose()["services"].values()]:
        for name, value in (service.get("environment") or {}).items():
            if name in SECRET_VARIABLES:
                assert str(value).startswith("${"), name
    # In Kubernetes: from Secrets, never from values; the chart generates no password Secret.
    values = _values()
    assert values["generatePostgresqlPasswordSecret"] is False
    assert "postgresqlPassword" not in values["postgresql"]
    for node in _walk([values, _receiver_documents()]):
        if isinstance(node, dict) and node.get("name") in SECRET_VARIABLES | REQUIRED_VARIABLES:
            assert "value" not in node, node["name"]
    assert not set(_dockerfile_env()) & SECRET_VARIABLES


def test_the_defaults_written_are_ones_the_project_accepts(monkeypatch):
    """Each non-secret value of env.example and of the ConfigMap, read by the project's own code."""
    from sync_assets.platform.raw import retention_days
    from sync_assets.rdvsp.budget import configured_per_minute

    for values in (_env_example_set(), _receiver_documents()["ConfigMap"]["data"]):
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        for name in ("SYNC_RAW_RETENTION_DAYS", "SYNC_DAGSTER_RETENTION_DAYS", "SYNC_TOMBSTONE_RETENTION_DAYS"):
            assert retention_days(name, 1) >= 1
        for name in ("RDVSP_REQUESTS_PER_MINUTE", "RDVSP_RDV_LISTING_REQUESTS_PER_MINUTE"):
            assert configured_per_minute(name, 1.0) > 0
        assert values["SYNC_LOG_LEVEL"] in ("DEBUG", "INFO", "WARNING", "ERROR")


# --- the image -------------------------------------------------------------------------------


def test_what_the_dockerfile_copies_exists_and_reaches_the_build():
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").split()
    included = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert "*" in ignore, "the build context is an allowlist"
    for sources, _ in _dockerfile_copies():
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: not in the repository"
            assert source.rstrip("/") in included, f"COPY {source}: excluded by deploy/Dockerfile.dockerignore"
    # setuptools reads the readme that pyproject.toml names when the package is built.
    copied = {source for sources, _ in _dockerfile_copies() for source in sources}
    assert {"pyproject.toml", "constraints.txt", "README.md", "sync_assets/", "sql/"} <= copied


def test_the_image_finds_sql_runs_as_a_user_and_starts_the_code_location():
    env = _dockerfile_env()
    # An installed package does not hold the repository's sql/: SYNC_SQL_DIR points at its copy.
    assert _in_the_repository(env["SYNC_SQL_DIR"]) == REPO / "sql"
    assert (REPO / "sql" / "migrations").is_dir()
    # The instance folder is the Helm chart's (its default, /opt/dagster/dagster_home).
    assert env["DAGSTER_HOME"] == "/opt/dagster/dagster_home" == _values()["global"]["dagsterHome"]
    instructions = _dockerfile_instructions()
    run = " ".join(rest for keyword, rest in instructions if keyword == "RUN")
    assert 'cp /app/dagster.yaml "$DAGSTER_HOME/dagster.yaml"' in run
    [user] = [rest for keyword, rest in instructions if keyword == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) > 0, "a numeric user, so that Kubernetes can check runAsNonRoot"
    for security in (
        _code_location()["podSecurityContext"],
        _receiver_documents()["Deployment"]["spec"]["template"]["spec"]["securityContext"],
    ):
        assert security["runAsNonRoot"] is True and security["runAsUser"] == int(uid)
    # The chart and the compose file give each container its whole command: no ENTRYPOINT.
    assert not [keyword for keyword, _ in instructions if keyword == "ENTRYPOINT"]
    [exposed] = [rest.split() for keyword, rest in instructions if keyword == "EXPOSE"]
    assert {"4000", "8787"} <= set(exposed)
    [base] = [rest for keyword, rest in instructions if keyword == "FROM"]
    assert base.startswith("python:3.11")


# --- the compose file ------------------------------------------------------------------------


def test_compose_wires_its_services():
    compose = _compose()
    services = compose["services"]
    assert set(services) == {
        "postgres",
        "redis",
        "migrate",
        "code-server",
        "webserver",
        "daemon",
        "receiver",
        "celery-worker",
    }
    assert set(_project_services(compose)) == set(services) - {"postgres", "redis"}
    for name, service in services.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on {dependency}"
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"
            elif condition["condition"] == "service_completed_successfully":
                assert services[dependency]["restart"] == "no", f"{dependency} is a one-shot service"
            else:
                raise AssertionError(f"{name}: {condition}")
        if name != "migrate":
            assert "healthcheck" in service, name
        for volume in service.get("volumes") or []:
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts {source}"
            else:
                assert source in compose["volumes"], f"{name} mounts {source}"
    assert services["migrate"]["command"] == ["sync-assets", "db", "upgrade"]
    for name in ("code-server", "receiver", "celery-worker"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_the_compose_workspace_points_at_the_code_server():
    from dagster._core.workspace.config_schema import ensure_workspace_config

    compose = _compose()
    workspace = DEPLOY / "workspace.yaml"
    ensure_workspace_config(yaml.safe_load(workspace.read_text(encoding="utf-8")), str(workspace))
    [location] = yaml.safe_load((DEPLOY / "workspace.yaml").read_text(encoding="utf-8"))["load_from"]
    [project_location] = yaml.safe_load((REPO / "workspace.yaml").read_text(encoding="utf-8"))["load_from"]
    server = location["grpc_server"]
    command = compose["services"][server["host"]]["command"]
    assert command[:3] == ["dagster", "code-server", "start"]
    assert command[command.index("-p") + 1] == str(server["port"])
    assert command[command.index("-m") + 1] == project_location["python_module"]["module_name"]
    assert server["location_name"] == project_location["python_module"]["location_name"]
    for name in ("webserver", "daemon"):
        service = compose["services"][name]
        workspace = service["command"][service["command"].index("-w") + 1]
        assert _in_the_repository(workspace) == DEPLOY / "workspace.yaml"


def test_the_celery_worker_and_the_jobs_share_a_broker():
    from sync_assets.platform.executor import CELERY_BROKER_VARIABLE, CELERY_CONFIG

    compose = _compose()
    command = compose["services"]["celery-worker"]["command"]
    assert command[:3] == ["dagster-celery", "worker", "start"]
    config = yaml.safe_load(_in_the_repository(command[command.index("-y") + 1]).read_text(encoding="utf-8"))
    assert config["execution"]["config"] == CELERY_CONFIG
    assert CELERY_BROKER_VARIABLE in compose["x-sync-assets"]["environment"]
    assert "redis://redis:6379" in compose["x-sync-assets"]["environment"][CELERY_BROKER_VARIABLE]


# --- Kubernetes ------------------------------------------------------------------------------


def test_the_receiver_and_the_code_location_run_one_image():
    location = _code_location()
    image = f"{location['image']['repository']}:{location['image']['tag']}"
    [migrate] = location["initContainers"]
    receiver = _receiver_documents()["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert migrate["image"] == image == receiver["image"]
    assert migrate["command"] == ["sync-assets", "db", "upgrade"]
    assert location["codeServerArgs"] == ["-m", "sync_assets.definitions"]


def test_the_receivers_probes_and_service_reach_its_port():
    documents = _receiver_documents()
    pod = documents["Deployment"]["spec"]["template"]
    [container] = pod["spec"]["containers"]
    command = container["command"]
    assert command[:3] == ["sync-assets", "webhooks", "serve"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    [port] = container["ports"]
    assert str(port["containerPort"]) == command[command.index("--port") + 1]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": port["name"]}
    service = documents["Service"]["spec"]
    assert service["ports"][0]["targetPort"] == port["name"]
    assert service["selector"].items() <= pod["metadata"]["labels"].items()
    assert documents["Deployment"]["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()


def test_the_receiver_answers_its_probe():
    import asyncio

    import httpx
    from sqlalchemy import create_engine

    from sync_assets.platform.secrets import TokenCipher
    from sync_assets.rdvsp.receiver import build_receiver

    # The probe needs no database: an engine that never connects.
    app = build_receiver(
        create_engine("postgresql+psycopg://probe@127.0.0.1:9/probe"), TokenCipher("a key for the probe")
    )

    async def probe() -> int:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://receiver") as client:
            return (await client.get("/health")).status_code

    assert asyncio.run(probe()) == 200


def test_the_kubernetes_objects_match_the_apis_models():
    """Every field of the manifests and of the pod fragments in values.yaml is one the Kubernetes
    API knows, with a value of its type (the models of the Kubernetes client dagster-k8s uses)."""
    from dagster_k8s.models import k8s_model_from_dict, k8s_snake_case_dict
    from kubernetes import client

    kinds = {"ConfigMap": client.V1ConfigMap, "Deployment": client.V1Deployment, "Service": client.V1Service}
    for kind, document in _receiver_documents().items():
        k8s_model_from_dict(kinds[kind], k8s_snake_case_dict(kinds[kind], document))
    location = _code_location()
    fragments = [
        *((client.V1Container, container) for container in location["initContainers"]),
        *((client.V1EnvVar, entry) for entry in location["env"]),
        *((client.V1ConfigMapEnvSource, source) for source in location["envConfigMaps"]),
        *((client.V1SecretEnvSource, source) for source in location["envSecrets"]),
        (client.V1PodSecurityContext, location["podSecurityContext"]),
        (client.V1SecurityContext, location["securityContext"]),
        (client.V1ResourceRequirements, location["resources"]),
    ]
    for model, fragment in fragments:
        k8s_model_from_dict(model, k8s_snake_case_dict(model, fragment))
    # A partial pod spec (merged into each run's): its field names and types.
    pod_spec = _values()["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]["podSpecConfig"]
    k8s_snake_case_dict(client.V1PodSpec, pod_spec)


def test_a_runs_pod_gets_the_image_the_variables_and_the_migrations():
    """The run launcher's configuration and the container context the chart gives the code location
    (and so each run it launches), as the chart writes them from values.yaml, pass dagster-k8s'
    schemas; the Job dagster-k8s then builds for a run holds the migrations, the variables and the user."""
    from dagster._config import validate_config
    from dagster_k8s import K8sRunLauncher
    from dagster_k8s.container_context import K8sContainerContext
    from dagster_k8s.job import DagsterK8sJobConfig, UserDefinedDagsterK8sConfig, construct_dagster_k8s_job

    values = _values()
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    config = {
        "load_incluster_config": True,
        "job_namespace": "default",
        "image_pull_policy": launcher["imagePullPolicy"],
        "service_account_name": HELM_RELEASE,
        "dagster_home": values["global"]["dagsterHome"],
        "instance_config_map": f"{HELM_RELEASE}-instance",
        "postgres_password_secret": "dagster-postgresql-secret",
        "env_config_maps": [source["name"] for source in launcher["envConfigMaps"]],
        "env_secrets": [source["name"] for source in launcher["envSecrets"]],
        "run_k8s_config": {"pod_spec_config": launcher["runK8sConfig"]["podSpecConfig"]},
    }
    result = validate_config(K8sRunLauncher.config_type(), config)
    assert result.success, result.errors

    location = _code_location()
    image = f"{location['image']['repository']}:{location['image']['tag']}"
    from_location = K8sContainerContext.create_from_config(
        {
            "k8s": {
                "image_pull_policy": location["image"]["pullPolicy"],
                "env_config_maps": [source["name"] for source in location["envConfigMaps"]],
                "env_secrets": [source["name"] for source in location["envSecrets"]],
                "env": location["env"],
                "run_k8s_config": {"pod_spec_config": {"init_containers": location["initContainers"]}},
            }
        }
    )
    from_launcher = K8sContainerContext(
        run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(config["run_k8s_config"]),
    )
    job = construct_dagster_k8s_job(
        DagsterK8sJobConfig(
            job_image=image,
            dagster_home=config["dagster_home"],
            instance_config_map=config["instance_config_map"],
            postgres_password_secret=config["postgres_password_secret"],
        ),
        ["dagster", "api", "execute_run", "{}"],
        "dagster-run-example",
        user_defined_k8s_config=from_launcher.merge(from_location).run_k8s_config,
    )
    pod = job.spec.template.spec
    assert [(container.name, container.command) for container in pod.init_containers] == [
        ("migrate", ["sync-assets", "db", "upgrade"])
    ]
    [container] = pod.containers
    assert container.image == image
    assert REQUIRED_VARIABLES | {"DAGSTER_HOME"} <= {entry.name for entry in container.env}
    assert {(source.config_map_ref or source.secret_ref).name for source in container.env_from} == {
        "sync-assets-config",
        "sync-assets-secrets",
    }
    assert pod.security_context.run_as_non_root is True


# --- the Dagster instances -------------------------------------------------------------------


def _load_instance_config(tmp_path: Path, config: dict[str, Any]) -> dict[str, Any]:
    from dagster._core.instance.config import dagster_instance_config

    folder = tmp_path / f"instance-{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    (folder / "dagster.yaml").write_text(yaml.safe_dump(config))
    loaded, _ = dagster_instance_config(str(folder))
    return dict(loaded)


def test_the_instances_load_with_dagsters_schema(tmp_path):
    """The image's instance (the project's dagster.yaml) and the one the chart writes from values.yaml
    (storage and run launcher as the chart renders them, then additionalInstanceConfig) both pass
    Dagster's checks, and they limit runs and pools alike."""
    import importlib

    from dagster._config import validate_config

    project = yaml.safe_load((REPO / "dagster.yaml").read_text(encoding="utf-8"))
    _load_instance_config(tmp_path, project)
    # Its storage class is the package's, and takes the configuration written (nothing: the
    # environment names the database); building it would connect, so only its schema is checked.
    [(kind, storage)] = project["storage"].items()
    if kind == "custom":
        storage_class = getattr(importlib.import_module(storage["module"]), storage["class"])
        assert validate_config(storage_class.config_type(), storage.get("config", {})).success

    values = _values()
    # The chart's own run coordinator section stays off: Dagster refuses its limits next to `concurrency`.
    assert values["dagsterDaemon"]["runCoordinator"]["enabled"] is False
    extra = values["additionalInstanceConfig"]
    assert extra["run_coordinator"] == project["run_coordinator"]
    assert extra["concurrency"] == project["concurrency"]
    assert values["pythonLogs"]["managedPythonLoggers"] == project["python_logs"]["managed_python_loggers"]
    assert values["telemetry"]["enabled"] == project["telemetry"]["enabled"]
    postgres = {
        "postgres_db": {
            "username": values["postgresql"]["postgresqlUsername"],
            "password": {"env": "DAGSTER_PG_PASSWORD"},
            "hostname": values["postgresql"]["postgresqlHost"],
            "db_name": values["postgresql"]["postgresqlDatabase"],
            "port": values["postgresql"]["service"]["port"],
        }
    }
    chart = {
        "run_storage": {"module": "dagster_postgres.run_storage", "class": "PostgresRunStorage", "config": postgres},
        "event_log_storage": {
            "module": "dagster_postgres.event_log",
            "class": "PostgresEventLogStorage",
            "config": postgres,
        },
        "schedule_storage": {
            "module": "dagster_postgres.schedule_storage",
            "class": "PostgresScheduleStorage",
            "config": postgres,
        },
        "run_launcher": {"module": "dagster_k8s", "class": "K8sRunLauncher", "config": {"load_incluster_config": True}},
        "python_logs": {"managed_python_loggers": values["pythonLogs"]["managedPythonLoggers"]},
        "telemetry": {"enabled": values["telemetry"]["enabled"]},
        **extra,
    }
    loaded = _load_instance_config(tmp_path, chart)
    assert loaded["concurrency"]["runs"]["tag_concurrency_limits"][0]["key"] == "dagster/partition"


# --- the commands ----------------------------------------------------------------------------


def _commands() -> dict[str, list[str]]:
    """Every command the deployment files start, by where it is written."""
    commands: dict[str, list[str]] = {}
    [cmd] = [rest for keyword, rest in _dockerfile_instructions() if keyword == "CMD"]
    commands["Dockerfile CMD"] = yaml.safe_load(cmd)
    for name, service in _compose()["services"].items():
        if "command" in service:
            commands[f"compose {name}"] = service["command"]
        test = service.get("healthcheck", {}).get("test", [])
        if test and test[0] == "CMD" and name in _project_services(_compose()) and test[1] != "python":
            commands[f"compose {name} healthcheck"] = test[1:]
        elif test and test[0] == "CMD-SHELL" and name in _project_services(_compose()):
            commands[f"compose {name} healthcheck"] = shlex.split(test[1].replace("$$", "$"))
    location = _code_location()
    commands["helm code location"] = [
        "dagster",
        "code-server",
        "start",
        "-h",
        "0.0.0.0",
        "-p",
        str(location["port"]),
        *location["codeServerArgs"],
    ]
    for container in location["initContainers"]:
        commands[f"helm init container {container['name']}"] = container["command"]
    for container in _receiver_documents()["Deployment"]["spec"]["template"]["spec"]["containers"]:
        commands[f"receiver.yaml {container['name']}"] = container["command"]
    return commands


def _runnable(command: list[str]) -> list[str]:
    """The command as this checkout can run it: from the virtualenv, the image's paths mapped back
    to the repository (so that options naming a file check that it exists), variables given a
    harmless value, and `--help` at the end: every option before it is parsed, nothing is started."""
    program = BIN / command[0]
    assert program.exists(), f"{command[0]} is not installed by the project"
    arguments = []
    for argument in command[1:]:
        if argument.startswith(IMAGE_ROOT + "/"):
            argument = str(_in_the_repository(argument))
        arguments.append(re.sub(r"\$\{?([A-Z][A-Z0-9_]*)\}?", "memory://", argument))
    return [str(program), *arguments, "--help"]


def test_every_command_started_is_a_real_command():
    commands = _commands()
    assert {command[0] for command in commands.values()} >= {
        "sync-assets",
        "dagster",
        "dagster-webserver",
        "dagster-daemon",
        "dagster-celery",
        "celery",
    }

    def run(item: tuple[str, list[str]]) -> tuple[str, subprocess.CompletedProcess[str]]:
        where, command = item
        return where, subprocess.run(_runnable(command), capture_output=True, text=True, timeout=120, cwd=REPO)

    unique = {tuple(command): where for where, command in commands.items()}
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, [(where, list(command)) for command, where in unique.items()]))
    failed = {where: (result.returncode, result.stderr[-500:]) for where, result in results if result.returncode}
    assert not failed, failed
