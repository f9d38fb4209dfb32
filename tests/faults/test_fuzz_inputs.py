"""A small, fast run of the fault-injection script (`python -m tests.faults.fuzz_inputs` runs ~1,100 inputs):
every category, about a tenth of the inputs, and not one traceback, lost record or accepted NaN."""

from __future__ import annotations

from tests.faults import fuzz_inputs


def test_malformed_inputs_end_in_skips_or_clear_errors(capsys) -> None:
    tallies = fuzz_inputs.run_all(scale=0.1, seed=5)
    report = fuzz_inputs.table(tallies)
    with capsys.disabled():
        print("\n" + report)
    assert {t.category for t in tallies} == set(fuzz_inputs.SIZES)
    assert sum(t.tried for t in tallies) >= 100
    problems = [e for t in tallies for e in t.examples if not e.split("] ", 1)[1].startswith("slow")]
    assert not problems, "\n".join(problems)
    assert all(t.tracebacks == t.lost == t.bad_accepted == 0 for t in tallies), report
