"""The README's commands are the ones CI runs."""
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text().splitlines()
    fence = readme.index("```bash")
    main_job, test_command = readme[fence + 1], readme[fence + 2]
    assert "snnumba sound-localization" in main_job
    assert "pytest" in test_command
    assert test_command in (ROOT / ".ci" / "run").read_text().splitlines()
