"""docker-compose.yml and the Kubernetes manifests: valid against their specifications, and every
service, port, variable and topic they name exists in the code. (No Docker engine or cluster here.)"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import promql_parser
import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from caseline.cli import app
from caseline.services import http_port
from eventcore.consumer import BatchOutcome
from eventcore.metrics import ServiceMetrics
from eventcore.service import group_id
from eventcore.settings import Settings
from schemas.topics import ALL_TOPICS
from services import ServiceName
from services.intake.settings import IntakeSettings
from services.jointmeeting.settings import JointMeetingSettings
from services.routing.settings import RoutingSettings
from services.sla.adapters.metrics import BrokerFigures, SlaCollector
from services.sla.adapters.watch import Watch
from services.sla.settings import SlaSettings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
K8S = ROOT / "deploy" / "k8s"
PROMETHEUS = ROOT / "deploy" / "prometheus"
INFRASTRUCTURE = {"postgres", "kafka", "kafka-topics", "kafka-sasl", "kafka-sasl-setup", "prometheus"}


# The shared runtime's settings and every service's own.
SETTINGS_CLASSES = (Settings, IntakeSettings, RoutingSettings, JointMeetingSettings, SlaSettings)


def _setting_names() -> set[str]:
    names: set[str] = set()
    for settings_class in SETTINGS_CLASSES:
        prefix = settings_class.model_config.get("env_prefix", "")
        for field_name, field in settings_class.model_fields.items():
            names.add(f"{prefix}{field_name}".upper())
            choices = getattr(field.validation_alias, "choices", ())
            names.update(str(choice) for choice in choices)
    return names


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _manifests() -> list[tuple[Path, dict[str, Any]]]:
    return [
        (path, doc)
        for path in sorted(K8S.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


def test_compose_file_follows_the_compose_specification() -> None:
    checked = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_compose_service_runs_a_service_the_code_has_on_the_port_it_listens_on() -> None:
    services = _compose()["services"]
    caseline_services = {name: spec for name, spec in services.items() if name not in INFRASTRUCTURE}
    assert set(caseline_services) == {name.value for name in ServiceName}
    for name, spec in caseline_services.items():
        assert spec["command"] == ["service", name]
        port = http_port(name)
        assert spec["ports"] == [f"{port}:{port}"]
        assert spec["environment"][f"CASELINE_{name.upper()}_PORT"] == str(port)
        assert f"{port}/healthz" in " ".join(spec["healthcheck"]["test"])


def test_every_variable_compose_sets_is_one_the_code_reads() -> None:
    known = _setting_names()
    for name, spec in _compose()["services"].items():
        if name in INFRASTRUCTURE:
            continue
        unknown = set(spec.get("environment", {})) - known
        assert not unknown, f"{name} sets variables no code reads: {sorted(unknown)}"


def test_compose_creates_the_topics_with_the_services_own_list() -> None:
    topics = _compose()["services"]["kafka-topics"]
    assert topics["command"] == ["topics", "ensure"] and topics["build"] == "."
    listed = CliRunner().invoke(app, ["topics", "list"], env={"COLUMNS": "300"})
    assert listed.exit_code == 0
    assert all(topic in listed.output for topic in ALL_TOPICS)


def test_kubernetes_manifests_are_current_and_valid_against_the_kubernetes_schemas() -> None:
    stale = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "render_manifests.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert stale.returncode == 0, stale.stderr
    for path, document in _manifests():
        if document["apiVersion"].startswith("keda.sh/"):
            continue  # a CRD: checked by the next test, the Kubernetes schemas do not know it
        try:
            kubernetes_validate.validate(document, "1.31.0", strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{path.name} {document['kind']}/{document['metadata']['name']}: {error}")


def test_every_service_has_a_deployment_with_probes_resources_and_a_disruption_budget() -> None:
    kinds: dict[str, set[str]] = {}
    for _, document in _manifests():
        kinds.setdefault(document["metadata"]["name"], set()).add(document["kind"])
    for name in ServiceName:
        assert {"Deployment", "Service", "PodDisruptionBudget"} <= kinds.get(name.value, set()), name
    for _, document in _manifests():
        if document["kind"] != "Deployment":
            continue
        [container] = document["spec"]["template"]["spec"]["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
        # time to drop out of the endpoints, then the 5 s a service needs to finish its batch and exit
        pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert document["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > pre_stop + 5
        assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
        assert container["resources"]["requests"]


def test_configured_variables_exist_and_lag_scalers_watch_the_real_consumer_groups() -> None:
    known = _setting_names()
    for _, document in _manifests():
        if document["kind"] == "ConfigMap":
            assert not set(document["data"]) - known
        if document["kind"] == "ScaledObject":
            name = document["spec"]["scaleTargetRef"]["name"]
            for trigger in document["spec"]["triggers"]:
                assert trigger["type"] == "kafka"
                assert trigger["metadata"]["consumerGroup"] == group_id(name)
                assert trigger["metadata"]["topic"] in ALL_TOPICS


def test_lag_scalers_watch_exactly_the_topics_each_service_consumes() -> None:
    scaled = {
        document["spec"]["scaleTargetRef"]["name"]: {
            t["metadata"]["topic"] for t in document["spec"]["triggers"]
        }
        for _, document in _manifests()
        if document["kind"] == "ScaledObject"
    }
    for name, topics in scaled.items():
        spec = importlib.import_module(f"services.{name}.app").spec()
        assert topics == {subscription.topic for subscription in spec.subscriptions}, name


def test_prometheus_scrapes_every_replica_of_every_service_where_it_listens() -> None:
    prometheus = _compose()["services"]["prometheus"]
    mounted = {volume.split(":")[0] for volume in prometheus["volumes"]}
    assert "./deploy/prometheus" in mounted
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    for rules in config["rule_files"]:
        assert (PROMETHEUS / rules).is_file(), rules
    [job] = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    scraped = {(name, sd["port"]) for sd in job["dns_sd_configs"] for name in sd["names"]}
    assert scraped == {(name.value, http_port(name.value)) for name in ServiceName}


def test_kubernetes_pods_are_annotated_for_scraping_on_their_own_port() -> None:
    for _, document in _manifests():
        if document["kind"] != "Deployment":
            continue
        template = document["spec"]["template"]
        [container] = template["spec"]["containers"]
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(container["ports"][0]["containerPort"])
        assert annotations["prometheus.io/path"] == "/metrics"


def test_alert_rules_parse_and_name_only_metrics_the_services_export() -> None:
    exported = _exported_metric_names() | {"up"}
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert rules
    for rule in rules:
        try:
            promql_parser.parse(rule["expr"])
        except ValueError as error:
            pytest.fail(f"{rule['alert']}: {error}")
        named = set(re.findall(r"\b(?:caseline_[a-z_]+|up)\b", rule["expr"]))
        assert named and named <= exported, f"{rule['alert']} names {sorted(named - exported)}"
        assert rule["labels"]["severity"] in {"page", "ticket"} and rule["annotations"]["summary"]


def _exported_metric_names() -> set[str]:
    """What a scrape of each kind of service holds: the runtime's figures and the SLA watch's."""
    runtime = ServiceMetrics("any", "any")
    runtime.record("t", BatchOutcome(handled=1, duplicates=1, ignored=1, dead_lettered=1), 0.1)
    registry = CollectorRegistry()
    registry.register(SlaCollector(Watch(0.8), BrokerFigures(), ["luzhou"]))
    text = generate_latest(runtime.registry).decode() + generate_latest(registry).decode()
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples} | {
        family.name for family in text_string_to_metric_families(text)
    }


def test_compose_and_the_manifests_carry_no_usable_secret_and_run_in_production_mode() -> None:
    compose = _compose()["services"]
    for name in (n.value for n in ServiceName):
        spec = compose[name]
        assert spec["environment"]["CASELINE_ENV"] == "production"
        assert spec["env_file"] == [f"secrets/{name}.env"]  # written by `caseline secrets generate`
        assert not {"DATABASE_URL", "CASELINE_PSEUDONYM_SECRET"} & set(spec["environment"])
    assert "POSTGRES_PASSWORD" not in compose["postgres"]["environment"]
    kinds = {document["kind"] for _, document in _manifests()}
    assert "Secret" not in kinds  # no placeholder Secret to apply by mistake
    [config] = [d for _, d in _manifests() if d["kind"] == "ConfigMap"]
    assert config["data"]["CASELINE_ENV"] == "production"
    for _, document in _manifests():
        if document["kind"] == "Deployment":
            [container] = document["spec"]["template"]["spec"]["containers"]
            refs = [source.get("secretRef", {}).get("name") for source in container["envFrom"]]
            assert f"caseline-{document['metadata']['name']}-secrets" in refs
    assert "CASELINE_ENV=production" in (ROOT / "Dockerfile").read_text()
