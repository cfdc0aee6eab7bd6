"""The CLI and README name what the code has: every provenance table, every command."""

import re

from click.testing import CliRunner

from factory.cli import main
from factory.store.provenance import relations

from support.cli import ROOT


def test_audit_help_names_every_table_and_view():
    out = CliRunner().invoke(main, ["audit", "--help"])
    assert out.exit_code == 0
    text = " ".join(out.output.split())
    for name in relations():
        assert re.search(rf"\b{name}\b", text), name


def test_the_readme_names_every_table_and_view_of_the_provenance_database():
    readme = (ROOT / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| `provenance.duckdb` |"))
    for name in relations():
        assert re.search(rf"\b{name}\b", row), name


def test_every_command_is_in_the_readme_and_has_help():
    readme = (ROOT / "README.md").read_text()
    for name, command in main.commands.items():
        assert f"`factory {name}" in readme, name
        assert command.help, name


def test_curate_decides_every_row_without_a_teacher(tmp_path):
    from support.cli import DEMO, factory

    proc = factory("curate", DEMO, "--out", tmp_path / "cur")
    assert proc.returncode == 0, proc.stderr
    # the demo's planted copies (see factory/demo/build.py): 25 duplicates, 10 eval copies, 5 without answers
    assert "curated 2460 rows: contaminated 10, duplicate 25, no_reference 5, ok 2420" in proc.stdout
    assert (tmp_path / "cur" / "problems.parquet").is_file()
    assert (tmp_path / "cur" / "curation" / "report.md").read_text().startswith("# Curation report")
    bad = factory("curate", tmp_path / "missing.yaml", "--out", tmp_path / "x")
    assert bad.returncode == 1 and "not found" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
