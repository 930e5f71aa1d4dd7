"""The Kafka principals and what each may do: each service writes only its own topics, a bureau reads only its
task topic and writes reports, a hotline platform writes the raw hotline topic.

One description serves three readers: `caseline secrets generate` (a SASL user and password per principal
and the `kafka-acls.sh` script that grants exactly this), deploy/README.md (the plan, as a table) and the
tests (the consumers' ce_source checks agree with who may write where).
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.bureau import BUREAU_REPORTS, bureau_tasks_topic
from schemas.reference import Bureau
from schemas.topics import ALL_TOPICS, CASES, COMPLAINTS, HOTLINE_RAW, JOINT_MEETING, SLA

ADMIN = "caseline-admin"  # creates topics (`caseline topics ensure`), runs the operator CLI and the monitor
HOTLINE_PLATFORM = "hotline-platform"
BUREAU_TOPICS = tuple(bureau_tasks_topic(b) for b in Bureau)


@dataclass(frozen=True)
class KafkaPrincipal:
    name: str
    writes: tuple[str, ...]
    reads: tuple[str, ...]
    group: str | None  # the consumer group it may use
    describe_all: bool = False  # reads every topic's offsets (consumer lag), creates topics

    @property
    def user(self) -> str:
        return f"User:{self.name}"


def bureau_principal(bureau: Bureau) -> str:
    return f"bureau-{bureau.value}"


PRINCIPALS: tuple[KafkaPrincipal, ...] = (
    KafkaPrincipal("intake", (COMPLAINTS,), (HOTLINE_RAW, CASES), "caseline.intake"),
    KafkaPrincipal("routing", (CASES,), (COMPLAINTS, JOINT_MEETING, SLA), "caseline.routing"),
    KafkaPrincipal(
        "jointmeeting", (JOINT_MEETING, *BUREAU_TOPICS), (CASES, BUREAU_REPORTS), "caseline.jointmeeting"
    ),
    # The SLA watch also reads every group's committed offsets for its consumer-lag figures.
    KafkaPrincipal("sla", (SLA,), (CASES, JOINT_MEETING), "caseline.sla", describe_all=True),
    KafkaPrincipal(HOTLINE_PLATFORM, (HOTLINE_RAW,), (), None),
    *(
        KafkaPrincipal(bureau_principal(b), (BUREAU_REPORTS,), (bureau_tasks_topic(b),), f"bureau.{b.value}")
        for b in Bureau
    ),
    KafkaPrincipal(ADMIN, (), ALL_TOPICS, None, describe_all=True),
)


def acl_commands(bootstrap: str = "kafka-sasl:9094", config: str = "/secrets/admin.properties") -> list[str]:
    """kafka-acls.sh invocations granting the plan and nothing more (the broker denies by default)."""
    base = f"/opt/kafka/bin/kafka-acls.sh --bootstrap-server {bootstrap} --command-config {config} --add"
    commands: list[str] = []
    for p in PRINCIPALS:
        for topic in p.writes:
            commands.append(
                f"{base} --allow-principal {p.user} --operation Write --operation Describe --topic {topic}"
            )
        for topic in p.reads:
            commands.append(
                f"{base} --allow-principal {p.user} --operation Read --operation Describe --topic {topic}"
            )
        if p.group:
            commands.append(f"{base} --allow-principal {p.user} --operation Read --group {p.group}")
        if p.describe_all:
            commands.append(
                f"{base} --allow-principal {p.user} --operation Describe --operation Read --group '*'"
            )
    admin = next(p for p in PRINCIPALS if p.name == ADMIN)
    commands.append(
        f"{base} --allow-principal {admin.user} --operation Create --operation Describe --cluster"
    )
    return commands


def plan_table() -> str:
    """The plan as a Markdown table (deploy/README.md)."""
    rows = ["| principal | writes | reads | consumer group |", "| --- | --- | --- | --- |"]
    for p in PRINCIPALS:
        if p.name.startswith("bureau-") and p.name != bureau_principal(Bureau.FIRE_RESCUE):
            continue
        name = "bureau-`<bureau>` (one per bureau)" if p.name.startswith("bureau-") else p.name
        writes = ", ".join(f"`{t}`" for t in p.writes) or "—"
        reads = "every topic" if p.reads == ALL_TOPICS else ", ".join(f"`{t}`" for t in p.reads) or "—"
        group = p.group or "—"
        if p.name.startswith("bureau-"):
            writes, reads, group = (
                f"`{BUREAU_REPORTS}`",
                "`caseline.bureau.<bureau>.tasks.v1`",
                "bureau.<bureau>",
            )
        if p.name == "jointmeeting":
            writes = f"`{JOINT_MEETING}`, every `caseline.bureau.<bureau>.tasks.v1`"
        if p.describe_all and p.name != ADMIN:
            reads += "; offsets of every `caseline.*` group (consumer lag)"
        rows.append(f"| {name} | {writes} | {reads} | {group} |")
    return "\n".join(rows)
