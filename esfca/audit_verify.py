"""Proof of the audit chains (``manage.py audit_verify``): every row's digest recomputed
from its content and the row before it, positions without gaps or repeats, every chain's
head on its last row and sealed by the key."""

from dataclasses import dataclass, field

from .audit import audit_key, canonical, chain_of, row_digest, seal_of
from .models import AuditEvent, AuditHead

FIELDS = ("id", "actor_id", "firm_id", "action", "object_type", "object_id", "details", "at")


@dataclass
class AuditReport:
    chains: int = 0
    rows: int = 0
    problems: list[str] = field(default_factory=list)
    digests_failed: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class ChainWalk:
    """Where the walk of one chain is: the last position seen and its stored digest."""

    chain: int
    seq: int = 0
    digest: str = ""


def _row_problems(walk: ChainWalk, key: bytes, row: dict, report: AuditReport) -> None:
    name = f"audit row {row['id']} (chain {walk.chain}, position {row['seq']})"
    if chain_of(row["firm_id"]) != walk.chain:
        report.problems.append(f"{name}: its firm's chain is {chain_of(row['firm_id'])}")
    if row["seq"] == walk.seq:
        report.problems.append(f"{name}: a second row at this position (a row inserted)")
        return  # checked against the row before the first one at this position: no more
    if row["seq"] != walk.seq + 1:
        report.problems.append(
            f"audit chain {walk.chain}: positions {walk.seq + 1} to {row['seq'] - 1} are "
            f"missing (rows deleted)"
        )
    else:
        text = canonical(**row)
        if row_digest(key, walk.digest, row["seq"], text) != row["digest"]:
            report.digests_failed += 1
            report.problems.append(
                f"{name}: its digest does not match its content and the row before it "
                f"(edited, or inserted without the key); {row['action']} "
                f"{row['object_type']}#{row['object_id']}"
            )
    walk.seq, walk.digest = row["seq"], row["digest"]


def _head_problems(walk: ChainWalk, head: AuditHead | None, key: bytes) -> list[str]:
    name = f"audit chain {walk.chain}"
    if head is None:
        return [f"{name}: {walk.seq} rows but no head (the head was deleted)"]
    problems = []
    if head.seq > walk.seq:
        problems.append(
            f"{name}: its head is at position {head.seq} but the last row is at {walk.seq} "
            f"(rows at the end deleted)"
        )
    elif head.seq < walk.seq:
        problems.append(
            f"{name}: rows past its head (position {head.seq}, last row {walk.seq}): the "
            f"head was rewound, or rows were added without it"
        )
    elif head.digest != walk.digest:
        problems.append(f"{name}: its head's digest is not its last row's")
    if head.seal != seal_of(key, head.chain, head.seq, head.digest):
        problems.append(
            f"{name}: its head (position {head.seq}) is not sealed by the audit key "
            f"(rewound or forged)"
        )
    return problems


def audit_verify() -> AuditReport:
    report, key = AuditReport(), audit_key()
    heads = {head.chain: head for head in AuditHead.objects.all()}
    rows = (
        AuditEvent.objects.order_by("chain", "seq", "id")
        .values(*FIELDS, "chain", "seq", "digest")
        .iterator(chunk_size=5000)
    )
    walk: ChainWalk | None = None
    for row in rows:
        if walk is None or row["chain"] != walk.chain:
            if walk is not None:
                report.problems += _head_problems(walk, heads.pop(walk.chain, None), key)
            walk = ChainWalk(row["chain"])
            report.chains += 1
        report.rows += 1
        _row_problems(walk, key, row, report)
    if walk is not None:
        report.problems += _head_problems(walk, heads.pop(walk.chain, None), key)
    for head in heads.values():  # chains whose every row is gone
        report.problems += _head_problems(ChainWalk(head.chain), head, key)
    if report.rows and report.digests_failed == report.rows:
        report.problems.append(
            "no row's digest matches: is ESFCA_AUDIT_KEY (or, unset, DJANGO_SECRET_KEY) the "
            "key the log was written with?"
        )
    return report
