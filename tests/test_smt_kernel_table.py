"""P10 and next-hop table synthesis against the Linux 6.12 table."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import HealthCheck, given, settings

from tests.test_smt_encode import random_specs
from vfio_migcheck.model.smt import kernel_table as K
from vfio_migcheck.model.smt.context import ProofContext
from vfio_migcheck.model.smt.walk import walk
from vfio_migcheck.model.spec import load_spec, parse_spec


@pytest.fixture(scope="module")
def ctx() -> ProofContext:
    return ProofContext(load_spec("linux-6.12"))


@pytest.fixture(scope="module")
def kernel() -> K.KernelTable:
    return K.load_kernel_table()


def with_cell(kernel: K.KernelTable, row: str, col: str, value: str | None) -> K.KernelTable:
    table = {r: dict(cols) for r, cols in kernel.table.items()}
    table[row][col] = value
    return dataclasses.replace(kernel, table=table)


def test_packaged_table_is_the_reference_copy(kernel):
    shipped = json.loads(K.kernel_table_path().read_text())
    assert shipped["next_state_table"]["PRE_COPY"]["STOP_COPY"] == "PRE_COPY_P2P"
    assert kernel.table["PRE_COPY"]["STOP_COPY"] == "PRE_COPY_P2P"
    assert kernel.table["STOP_COPY"]["PRE_COPY"] is None  # ERROR cell = rejected
    assert "ERROR" not in kernel.table and kernel.error == "ERROR"
    assert len(kernel.required_arcs[0x7]) == 15
    assert kernel.flags == {"STOP_COPY": 1, "P2P": 2, "PRE_COPY": 4}


def test_linux_612_agrees_with_the_kernel_everywhere(ctx, kernel):
    assert K.inapplicable_reason(ctx, kernel) is None
    for flags in ctx.spec.defined_flag_sets:
        result = K.p10_walk(ctx, kernel, flags)
        assert result.status == "proved", result.counterexamples
    assert K.p10_data(ctx, kernel).status == "proved"


def test_the_words_differ_from_the_kernel_in_exactly_one_place(ctx, kernel):
    diffs = K.words_vs_kernel(ctx, kernel)
    assert [(c.flags, c.src, c.dst, c.path) for c in diffs] == [
        (0x7, "PRE_COPY", "STOP_COPY", ("PRE_COPY_P2P", "STOP_COPY"))]
    assert diffs[0].extra["rules_path"] == ["RUNNING", "RUNNING_P2P", "STOP", "STOP_COPY"]


def test_a_changed_kernel_cell_is_caught(ctx, kernel):
    changed = with_cell(kernel, "PRE_COPY", "STOP_COPY", "RUNNING")
    result = K.p10_walk(ctx, changed, 0x7)
    assert result.status == "refuted"
    assert [(c.src, c.dst, c.path) for c in result.counterexamples] == [
        ("PRE_COPY", "STOP_COPY", ("RUNNING", "RUNNING_P2P", "STOP", "STOP_COPY"))]
    # Under 0x5 the changed table walks PRE_COPY -> RUNNING -> STOP -> STOP_COPY, too long.
    assert K.p10_walk(ctx, changed, 0x5).status == "refuted"
    verdict = K.synthesize(ctx, True, changed)
    assert verdict.exists and verdict.kernel_satisfies is False


def test_changed_kernel_data_is_caught(ctx, kernel):
    masks = dict(kernel.state_flags, PRE_COPY=0x7)
    result = K.p10_data(ctx, dataclasses.replace(kernel, state_flags=masks))
    assert [(c.src, c.detail) for c in result.counterexamples] == [
        ("PRE_COPY", "state_flags: kernel 0x7, spec 0x5")]
    blocked = K.p10_data(ctx, dataclasses.replace(kernel, blocked=frozenset()))
    assert {(c.src, c.dst) for c in blocked.counterexamples} == {
        ("STOP_COPY", "PRE_COPY"), ("STOP_COPY", "PRE_COPY_P2P")}


def test_kernel_table_is_the_only_one_for_the_refined_rules(ctx, kernel):
    verdict = K.synthesize(ctx, True, kernel)
    assert verdict.exists and verdict.kernel_satisfies and verdict.unique
    assert verdict.cells == 42 and verdict.alternatives == {}
    for row, cols in verdict.table.items():
        for col, cell in cols.items():
            assert cell == kernel.table[row][col]


def test_no_table_serves_the_words_for_all_flag_sets(ctx, kernel):
    verdict = K.synthesize(ctx, False, kernel)
    assert not verdict.exists
    assert {(c["flags"], c["from"], c["to"]) for c in verdict.conflict} == {
        ("0x5", "PRE_COPY", "STOP_COPY"), ("0x7", "PRE_COPY", "STOP_COPY")}


def test_ties_show_up_as_alternative_tables():
    data = {
        "spec": {"name": "diamond", "state_limit": 5},
        "flags": {"BASE": 1},
        "flag_sets": {"mandatory": ["BASE"], "defined": [1]},
        "states": {"ERROR": {"value": 0, "error": True},
                   **{s: {"value": i + 1, "requires": ["BASE"]} for i, s in enumerate("ABCD")}},
        "arcs": [{"from": a, "to": b} for a, b in ["AB", "AC", "BD", "CD"]],
        "path": {},
        "reset": {"state": "A"},
    }
    verdict = K.synthesize(ProofContext(parse_spec(data)), True, None)
    assert verdict.exists and verdict.unique is False
    assert sorted(verdict.alternatives["A->D"]) == ["B", "C"]


def test_the_kernel_table_does_not_apply_to_other_state_sets(kernel):
    why = K.inapplicable_reason(ProofContext(load_spec("linux-5.18")), kernel)
    assert why is not None and why.startswith("not applicable")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=random_specs())
def test_a_synthesized_table_walks_like_the_rules(spec):
    """The symbolic walk in the synthesis against walk.py: any table z3 finds must, walked
    the kernel's way, give a shortest rule-abiding path or reject at once, for every flag set."""
    ctx = ProofContext(spec)
    verdict = K.synthesize(ctx, True, None)
    if not verdict.exists:
        assert verdict.conflict
        return
    for flags in spec.defined_flag_sets:
        usable = set(ctx.usable(flags))
        for a, b in ctx.requests(flags):
            result = walk(verdict.table, usable, a, b)
            ans = ctx.answer(flags, a, b)
            if ans.ok:
                assert result.ok and result.path in [p[1:] for p in ans.shortest]
            else:
                assert not result.ok and result.path == ()


def test_the_518_table_is_the_612_table_on_the_older_states(kernel):
    verdict = K.synthesize(ProofContext(load_spec("linux-5.18")), True, None)
    assert verdict.unique and verdict.cells == 20
    assert all(kernel.table[row][col] == cell
               for row, cols in verdict.table.items() for col, cell in cols.items())
