"""Render Caseline's Kubernetes manifests from one description of the services.

    python deploy/render_manifests.py          # writes deploy/k8s/*.yaml
    python deploy/render_manifests.py --check  # exits 1 when the checked-in files are stale

One template for every service keeps probes, resources and security settings from drifting apart;
tests/test_deployment_files.py validates the output against the Kubernetes JSON schemas.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from schemas.bureau import BUREAU_REPORTS
from schemas.topics import CASES, COMPLAINTS, HOTLINE_RAW, JOINT_MEETING, SLA
from services import SERVICE_NAMES, ServiceName
from services.intake.settings import IntakeSettings
from services.jointmeeting.settings import JointMeetingSettings
from services.routing.settings import RoutingSettings
from services.sla.settings import SlaSettings

OUT = Path(__file__).resolve().parent / "k8s"
NAMESPACE = "caseline"
IMAGE = "ghcr.io/caseline/caseline:0.1.0"
CONSUMER_GROUP_PREFIX = "caseline."
PRE_STOP_SECONDS = 3
SHUTDOWN_SECONDS = 5  # SIGTERM to exit: eventcore.service stops within it
TERMINATION_GRACE_SECONDS = 15


@dataclass(frozen=True)
class ServiceDeployment:
    name: str
    port: int
    replicas: int
    max_replicas: int
    consumes: tuple[str, ...]  # topics whose consumer lag scales the service (KEDA)


# How each service scales; its name comes from services.SERVICE_NAMES and its port from its settings'
# default, so the manifests name what the code runs.
_SCALING: dict[str, tuple[int, int, tuple[str, ...]]] = {
    ServiceName.INTAKE: (2, 4, (HOTLINE_RAW, CASES)),
    ServiceName.ROUTING: (2, 8, (COMPLAINTS, JOINT_MEETING, SLA)),
    ServiceName.JOINTMEETING: (2, 4, (CASES, BUREAU_REPORTS)),
    # Every sla replica keeps every clock (alerts are deduplicated by their stream ids): two for
    # availability, and no lag scaling, since more replicas would not share the work.
    ServiceName.SLA: (2, 2, ()),
}
_PORTS: dict[str, int] = {
    ServiceName.INTAKE: IntakeSettings.model_fields["intake_port"].default,
    ServiceName.ROUTING: RoutingSettings.model_fields["port"].default,
    ServiceName.JOINTMEETING: JointMeetingSettings.model_fields["port"].default,
    ServiceName.SLA: SlaSettings.model_fields["port"].default,
}

SERVICES = tuple(ServiceDeployment(name, _PORTS[name], *_SCALING[name]) for name in SERVICE_NAMES)

CONFIG = {
    # Production: development credentials, placeholders and missing secrets stop every service at start.
    "CASELINE_ENV": "production",
    "KAFKA_BOOTSTRAP_SERVERS": "kafka-bootstrap.kafka.svc:9093",
    "CASELINE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "CASELINE_HTTP_HOST": "0.0.0.0",
    "CASELINE_LOG_JSON": "true",
    "CASELINE_LOG_LEVEL": "INFO",
    "CASELINE_TOPIC_PARTITIONS": "24",
    "CASELINE_CONSUMER_BATCH_SIZE": "500",
    "CASELINE_RELAY_BATCH_SIZE": "1000",
}


def secret_name(service: str) -> str:
    """Each service's own Secret (least privilege), written by `caseline secrets generate`, never checked in."""
    return f"caseline-{service}-secrets"


def _labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "caseline"}


def _scrape(port: int) -> dict[str, str]:
    """The annotations Prometheus' usual Kubernetes pod discovery keys on (deploy/prometheus has the rules)."""
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": "/metrics"}


def _probe(path: str, port: int, period: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": port}, "periodSeconds": period, "timeoutSeconds": 3}


def _container(service: ServiceDeployment) -> dict[str, Any]:
    return {
        "name": service.name,
        "image": IMAGE,
        "args": ["service", service.name],
        "ports": [{"name": "http", "containerPort": service.port}],
        "env": [{"name": f"CASELINE_{service.name.upper()}_PORT", "value": str(service.port)}],
        "envFrom": [
            {"configMapRef": {"name": "caseline-config"}},
            {"secretRef": {"name": secret_name(service.name)}},
        ],
        # Kubernetes sends SIGTERM while the endpoints controller still routes to the pod; waiting first
        # lets requests stop arriving before uvicorn stops taking them.
        "lifecycle": {"preStop": {"sleep": {"seconds": PRE_STOP_SECONDS}}},
        "readinessProbe": _probe("/healthz", service.port, 10),
        "livenessProbe": {**_probe("/livez", service.port, 20), "failureThreshold": 3},
        "startupProbe": {**_probe("/livez", service.port, 2), "failureThreshold": 30},
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def deployment(service: ServiceDeployment) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": service.name, "namespace": NAMESPACE, "labels": _labels(service.name)},
        "spec": {
            "replicas": service.replicas,
            "selector": {"matchLabels": _labels(service.name)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": _labels(service.name), "annotations": _scrape(service.port)},
                "spec": {
                    # preStop (3 s, while the endpoints drop the pod) + SIGTERM to exit (the batch in hand
                    # finishes and commits: at most 5 s, docs/operations-faults.md) + margin.
                    "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
                    "containers": [_container(service)],
                },
            },
        },
    }


def http_service(service: ServiceDeployment) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": service.name, "namespace": NAMESPACE, "labels": _labels(service.name)},
        "spec": {
            "selector": _labels(service.name),
            "ports": [{"name": "http", "port": service.port, "targetPort": "http"}],
        },
    }


def disruption_budget(service: ServiceDeployment) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": service.name, "namespace": NAMESPACE},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": _labels(service.name)}},
    }


def lag_scaler(service: ServiceDeployment) -> dict[str, Any]:
    """KEDA ScaledObject: one more replica per 1,000 messages of lag, never more than the partitions."""
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": service.name, "namespace": NAMESPACE},
        "spec": {
            "scaleTargetRef": {"name": service.name},
            "minReplicaCount": service.replicas,
            "maxReplicaCount": service.max_replicas,
            "triggers": [
                {
                    "type": "kafka",
                    "metadata": {
                        "bootstrapServers": CONFIG["KAFKA_BOOTSTRAP_SERVERS"],
                        "consumerGroup": f"{CONSUMER_GROUP_PREFIX}{service.name}",
                        "topic": topic,
                        "lagThreshold": "1000",
                        "allowIdleConsumers": "false",
                    },
                }
                for topic in service.consumes
            ],
        },
    }


def shared_documents() -> dict[str, list[dict[str, Any]]]:
    return {
        "namespace.yaml": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}],
        "config.yaml": [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "caseline-config", "namespace": NAMESPACE},
                "data": CONFIG,
            },
        ],
    }


def documents() -> dict[str, list[dict[str, Any]]]:
    files = shared_documents()
    for service in SERVICES:
        files[f"{service.name}.yaml"] = [
            deployment(service),
            http_service(service),
            disruption_budget(service),
        ]
    files["keda-scaledobjects.yaml"] = [lag_scaler(s) for s in SERVICES if s.consumes]
    return files


def render(files: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    header = "# Generated by deploy/render_manifests.py; edit that file, not this one.\n"
    return {
        name: header + yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False)
        for name, docs in files.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="fail if the checked-in manifests are stale")
    args = parser.parse_args(argv)
    rendered = render(documents())
    stale = [
        name
        for name, text in rendered.items()
        if not (OUT / name).exists() or (OUT / name).read_text() != text
    ]
    if args.check:
        for name in stale:
            print(f"stale: deploy/k8s/{name} (run python deploy/render_manifests.py)", file=sys.stderr)
        return 1 if stale else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in rendered.items():
        (OUT / name).write_text(text)
    print(f"wrote {len(rendered)} files to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
