"""The bad-input matrix: every test that feeds keras_tl a bad input (file, config, rerun, fault) records each case
it checks with the ``bad_input`` fixture. Passed cases are tallied across test processes and printed at the end of
the run; a full run of the suite fails when the matrix has fewer than ``MINIMUM_CASES`` passed cases."""

from __future__ import annotations

from pathlib import Path

import pytest

MINIMUM_CASES = 80
PROPERTY = "bad_input"


@pytest.fixture
def bad_input(request):
    """``bad_input(case, outcome)``: record that ``case`` ended in ``outcome`` (kept only if the test passes)."""

    def record(case: str, outcome: str) -> None:
        request.node.user_properties.append((PROPERTY, f"{case}: {outcome}"))

    return record


def run_cli(capsys, *args) -> tuple[int, str, str]:
    """The CLI in this process; asserts that nothing it printed is a traceback or an 'unexpected' error."""
    from keras_tl.cli.main import main

    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, err[-2000:]
    assert "unexpected" not in err, err[-2000:]
    return code, out, err


def expect_error(capsys, bad_input, case: str, fragment: str, *args) -> str:
    """The command ends with exit status 2 and exactly one line on stderr, ``error: ...`` containing ``fragment``."""
    code, out, err = run_cli(capsys, *args)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], (case, err)
    bad_input(case, "one-line error")
    return lines[0]


class _Tally:
    def __init__(self):
        self.cases: list[str] = []

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report):
        if report.when == "call" and report.passed:
            self.cases += [value for key, value in report.user_properties if key == PROPERTY]

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter, config):
        if not self.cases:
            return
        terminalreporter.write_sep("=", f"bad-input matrix: {len(self.cases)} cases passed")
        if config.option.verbose > 0:
            for case in sorted(self.cases):
                terminalreporter.write_line(f"  {case}")
        if _is_full_run(config) and len(self.cases) < MINIMUM_CASES:
            terminalreporter.write_line(f"bad-input matrix: {len(self.cases)} passed cases, at least "
                                        f"{MINIMUM_CASES} expected", red=True)
            terminalreporter._session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _is_full_run(config) -> bool:
    if config.option.keyword or config.option.markexpr or getattr(config.option, "lf", False):
        return False
    tests = Path(config.rootpath, "tests").resolve()
    return [Path(a.split("::")[0]).resolve() for a in config.args] == [tests]


def pytest_configure(config):
    if not hasattr(config, "workerinput"):  # the controller (or a run without xdist) tallies every process
        config.pluginmanager.register(_Tally(), "bad-input-tally")
