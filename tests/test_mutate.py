"""The mutation command finds the mutants it documents (it is run by hand, not in CI)."""
import ast

from tests.mutate import find_mutants

SOURCE = '''"""A docstring with 1 + 2 in it."""


def f(x, n, out):
    total = 0
    for i in range(1, n):
        if x[i] > 0.5 and x[i - 1] is not None:
            total += x[i] * 2 - out[i:n]
    raise ValueError(f"{n + 1} values")
    return -total
'''


def test_finds_each_kind_of_mutant(tmp_path):
    path = tmp_path / "module.py"
    path.write_text(SOURCE)
    mutants = find_mutants(path)
    found = {(m.line, m.description) for m in mutants}
    assert {(7, "'>' -> '>='"), (7, "'is not' -> 'is'"), (8, "'+=' -> '-='"), (8, "'*' -> '/'"),
            (8, "'-' -> '+'"), (5, "constant 0 -> 1"), (6, "constant 1 -> 0"), (7, "constant 0.5 -> 1.5"),
            (8, "constant 2 -> 3"), (6, "range stop 'n' -> 'n - 1'"), (6, "range stop 'n' -> 'n + 1'"),
            (7, "index 'i' -> 'i + 1'"), (7, "index 'i - 1' -> '(i - 1) + 1'"), (8, "slice stop 'n' -> 'n - 1'"),
            (10, "unary '-' dropped")} <= found
    assert not any(m.line in (1, 9) for m in mutants)       # docstrings and messages are left alone
    original = path.read_bytes()
    for m in mutants:                                         # every mutant is Python and differs
        mutated = m.apply(original)
        assert mutated != original
        ast.parse(mutated)
