"""The suite's own layout: pytest (rootdir-relative, no packages) refuses to collect two
test modules with one basename, and then runs nothing at all."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_test_module_basename_is_unique():
    seen = {}
    for path in sorted(REPO.glob("tests/**/test_*.py")) + sorted(REPO.glob("integration/**/test_*.py")):
        seen.setdefault(path.name, []).append(str(path.relative_to(REPO)))
    clashes = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not clashes, f"test modules sharing a basename: {clashes}"
