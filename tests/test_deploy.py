"""The deployment files, checked with what runs here (no Docker daemon): they parse, name real
crm-bot commands and settings, probe the real endpoints, run as non-root, and the package the
image installs carries its migrations and sample data."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from assistant.ops.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
CRM_BOT = shutil.which("crm-bot", path=str(Path(sys.executable).parent)) or "crm-bot"
SETTINGS = {field.alias for field in Settings.model_fields.values()}
HEALTH_PORT = Settings.model_fields["health_port"].default


def _is_command(args: list[str]) -> bool:
    """``crm-bot WORD [WORD] --help`` works: the words name a real (sub)command."""
    words = [a for a in args if not a.startswith("-")][:2]
    return any(subprocess.run([CRM_BOT, *words[:n], "--help"], check=False, capture_output=True).returncode == 0
               for n in (2, 1))


def test_dockerfile_is_multi_stage_non_root_and_runs_crm_bot() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, flags=re.M)) >= 2
    user = re.findall(r"^USER (\S+)", text, flags=re.M)[-1]
    assert user.split(":")[0] not in ("root", "0")
    assert 'ENTRYPOINT ["crm-bot"]' in text and 'CMD ["serve"]' in text
    assert f"127.0.0.1:{HEALTH_PORT}/healthz" in text
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", text, flags=re.M):
        for path in source.split():
            assert (ROOT / path).exists(), path
    assert set(re.findall(r"\b(CRM_[A-Z_]+)=", text)) <= SETTINGS


def test_compose_starts_postgres_migrates_then_bot_and_scheduler() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yml").read_text())
    services = {name: s for name, s in compose["services"].items() if not s.get("profiles")}
    assert set(services) == {"db", "migrate", "bot", "scheduler"}
    assert services["migrate"]["command"] == ["db", "upgrade"]
    for name in ("bot", "scheduler"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert f"127.0.0.1:{HEALTH_PORT}/readyz" in " ".join(services[name]["healthcheck"]["test"])
    for name in ("migrate", "bot", "scheduler"):
        assert _is_command(services[name]["command"]), name
        assert set(services[name].get("environment", {})) <= SETTINGS
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"


def test_the_cluster_profile_adds_a_dask_scheduler_and_workers_of_the_same_image() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yml").read_text())
    cluster = {name: s for name, s in compose["services"].items() if "cluster" in s.get("profiles", [])}
    assert set(cluster) == {"dask-scheduler", "dask-worker"}
    assert all(s["image"] == compose["services"]["scheduler"]["image"] for s in cluster.values())
    assert cluster["dask-worker"]["command"][:2] == ["worker", "tcp://dask-scheduler:8786"]
    overlay = yaml.safe_load((DEPLOY / "k8s" / "cluster" / "kustomization.yaml").read_text())
    docs = [doc for f in overlay["resources"] if f != ".." for doc in
            yaml.safe_load_all((DEPLOY / "k8s" / "cluster" / f).read_text()) if doc]
    workers = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "crm-dask-worker")
    service = next(d for d in docs if d["kind"] == "Service")
    address = workers["spec"]["template"]["spec"]["containers"][0]["args"][1]
    assert address == f"tcp://{service['metadata']['name']}:8786"
    patch = yaml.safe_load((DEPLOY / "k8s" / "cluster" / "dask-settings.yaml").read_text())
    assert patch["data"] == {"CRM_DASK_SCHEDULER": address} and set(patch["data"]) <= SETTINGS


def test_env_example_names_only_real_settings() -> None:
    names = re.findall(r"^#?\s*([A-Z][A-Z_]+)=", (DEPLOY / ".env.example").read_text(), flags=re.M)
    assert names and set(names) <= SETTINGS


def _kubernetes() -> list[dict]:  # type: ignore[type-arg]
    files = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())["resources"]
    return [doc for f in files for doc in yaml.safe_load_all((DEPLOY / "k8s" / f).read_text()) if doc]


def test_kubernetes_manifests_probe_the_real_endpoints_as_non_root() -> None:
    docs = _kubernetes()
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    assert set(config) <= SETTINGS and int(config["CRM_HEALTH_PORT"]) == HEALTH_PORT
    secret = yaml.safe_load((DEPLOY / "k8s" / "secret.example.yaml").read_text())
    assert set(secret["stringData"]) <= SETTINGS
    workloads = [d for d in docs if d["kind"] in ("Deployment", "Job")]
    assert {d["metadata"]["name"] for d in workloads} == {"crm-bot", "crm-bot-scheduler", "crm-bot-migrate"}
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            assert _is_command(container["args"]), container["name"]
            if workload["kind"] == "Deployment":
                ports = {p["name"]: p["containerPort"] for p in container["ports"]}
                assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
                assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
                assert ports[container["readinessProbe"]["httpGet"]["port"]] == HEALTH_PORT


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed on this machine")
def test_kustomize_renders_the_manifests() -> None:
    rendered = subprocess.run(["kubectl", "kustomize", str(DEPLOY / "k8s")], check=False, capture_output=True,
                              text=True)
    assert rendered.returncode == 0, rendered.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(rendered.stdout)]
    assert sorted(kinds) == ["ConfigMap", "Deployment", "Deployment", "Job", "Namespace", "Service"]


def test_the_package_the_image_installs_carries_migrations_and_the_sample(tmp_path: Path) -> None:
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                           check=False, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    names = zipfile.ZipFile(next(tmp_path.glob("crm_bot-*.whl"))).namelist()
    migrations = sorted(p.name for p in (ROOT / "db" / "migrations" / "versions").glob("*.py"))
    assert migrations and all(f"db/migrations/versions/{m}" in names for m in migrations)
    assert "db/migrations/env.py" in names and "db/sample/online_retail_sample.csv.gz" in names
    assert "bot.py" in names
