"""Mutation testing: put one realistic bug at a time into a source file and run the tests.

Usage (from the repository root)::

    python tests/mutate.py snnumba/kernels/cpu/lif.py --tests tests/kernels/test_lif.py
    python tests/mutate.py snnumba/layers.py snnumba/network.py --sample 8 --seed 1
    python tests/mutate.py snnumba/losses.py --list

Mutations (found with ``ast``, applied as a text edit of the one file):

* comparisons flipped: ``<`` <-> ``<=``, ``>`` <-> ``>=``, ``==`` <-> ``!=``,
  ``is`` <-> ``is not``, ``in`` <-> ``not in``;
* arithmetic swapped: ``+`` <-> ``-``, ``*`` <-> ``/``, ``//`` -> ``*``, ``%`` -> ``//``,
  ``**`` -> ``*``, ``&`` <-> ``|``, ``^`` -> ``|``, ``<<`` <-> ``>>``, the same in ``+=`` etc.,
  and a unary minus dropped;
* constants changed: ``0`` <-> ``1``, ``n`` -> ``n + 1``, ``True`` <-> ``False``;
* off by one: ``range``/``prange`` bounds, slice bounds and index expressions
  (``x[t, b]`` -> ``x[t + 1, b]``) moved by one.

Each mutant is written over the file, the tests run as CI runs them (``pytest -x``, the
CUDA twins in the simulator) with a fresh, empty ``NUMBA_CACHE_DIR``: Numba's cache is
keyed on the kernel's own file, so a warm cache would hide a mutant in an inlined helper.
The original file (and its modification time) is restored after every mutant, also on
Ctrl-C. A mutant is *killed* when the tests fail or time out.

Not part of CI: every mutant pays a cold compile.
"""
import argparse
import ast
import os
import pathlib
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

ROOT = pathlib.Path(__file__).resolve().parents[1]

COMPARE = {ast.Lt: ("<", "<="), ast.LtE: ("<=", "<"), ast.Gt: (">", ">="), ast.GtE: (">=", ">"),
           ast.Eq: ("==", "!="), ast.NotEq: ("!=", "=="), ast.Is: ("is", "is not"),
           ast.IsNot: ("is not", "is"), ast.In: ("in", "not in"), ast.NotIn: ("not in", "in")}
ARITHMETIC = {ast.Add: ("+", "-"), ast.Sub: ("-", "+"), ast.Mult: ("*", "/"), ast.Div: ("/", "*"),
              ast.FloorDiv: ("//", "*"), ast.Mod: ("%", "//"), ast.Pow: ("**", "*"),
              ast.BitAnd: ("&", "|"), ast.BitOr: ("|", "&"), ast.BitXor: ("^", "|"),
              ast.LShift: ("<<", ">>"), ast.RShift: (">>", "<<")}
#: characters that may not touch an operator symbol found in the gap between two operands
OPERATOR_CHARS = "<>=!*/+-%&|^~@"


@dataclass(frozen=True)
class Mutant:
    """One text edit of one file: bytes ``start:end`` of the source become ``replacement``."""

    path: str
    line: int
    column: int
    start: int
    end: int
    replacement: str
    description: str

    def apply(self, source):
        return source[:self.start] + self.replacement.encode() + source[self.end:]

    def __str__(self):
        return f"{self.path}:{self.line}:{self.column}  {self.description}"


class _Finder(ast.NodeVisitor):
    """Collects the mutants of one module (byte offsets, as ``ast`` reports them)."""

    def __init__(self, source, path):
        self.source = source
        self.path = path
        self.line_start = [0]
        for line in source.splitlines(keepends=True):
            self.line_start.append(self.line_start[-1] + len(line))
        self.mutants = []
        self.counters = set()  # names that hold loop counters or index arithmetic

    # --- positions ---------------------------------------------------------------------
    def offset(self, line, col):
        return self.line_start[line - 1] + col

    def span(self, node):
        return self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset)

    def text(self, node):
        start, end = self.span(node)
        return self.source[start:end].decode()

    def add(self, node, start, end, replacement, description):
        line = next(i for i in range(len(self.line_start) - 1, 0, -1) if self.line_start[i - 1] <= start)
        column = len(self.source[self.line_start[line - 1]:start].decode()) + 1
        self.mutants.append(Mutant(self.path, line, column, start, end, replacement, description))

    def add_operator(self, node, left, right, symbol, replacement):
        """Mutate the operator ``symbol`` written between the operands ``left`` and ``right``."""
        lo, hi = self.span(left)[1], self.span(right)[0]
        gap = re.sub(rb"#[^\n]*", lambda m: b" " * len(m.group()), self.source[lo:hi]).decode()
        words = symbol.replace(" ", r"\s+")
        pattern = (rf"\b{words}\b" if symbol[0].isalpha()
                   else rf"(?<![{re.escape(OPERATOR_CHARS)}]){re.escape(symbol)}(?![{re.escape(OPERATOR_CHARS)}])")
        match = re.search(pattern, gap)
        if match is None:  # pragma: no cover - an operator hidden in an unusual layout
            return
        start = lo + len(gap[:match.start()].encode())
        end = lo + len(gap[:match.end()].encode())
        self.add(node, start, end, replacement, f"'{symbol}' -> '{replacement}'")

    def add_shift(self, node, target, delta, what):
        """``target`` -> ``target + 1`` (or - 1), parenthesised when it is an expression."""
        text = self.text(target)
        simple = isinstance(target, (ast.Name, ast.Attribute, ast.Subscript, ast.Call, ast.Constant))
        new = f"{text if simple else '(' + text + ')'} {'+' if delta > 0 else '-'} 1"
        start, end = self.span(target)
        self.add(node, start, end, new, f"{what} '{text}' -> '{new}'")

    # --- traversal ---------------------------------------------------------------------
    def visit_Module(self, node):
        # counters first: an index may use a name before the loop that defines it is visited
        for sub in ast.walk(node):
            if isinstance(sub, ast.For) and isinstance(sub.target, ast.Name) and _is_range(sub.iter):
                self.counters.add(sub.target.id)
            elif isinstance(sub, ast.Assign) and isinstance(sub.value, (ast.BinOp, ast.Call)):
                if isinstance(sub.value, ast.BinOp) or _callee(sub.value) == "grid":
                    for t in sub.targets:
                        for name in ast.walk(t):
                            if isinstance(name, ast.Name):
                                self.counters.add(name.id)
        self.generic_visit(node)

    def _skip_decorators(self, node):
        for field, value in ast.iter_fields(node):
            if field in ("decorator_list", "returns"):
                continue
            if field == "args":
                self.visit_arguments_without_annotations(value)
                continue
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, ast.AST):
                    self.visit(item)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _skip_decorators

    def visit_arguments_without_annotations(self, args):
        if isinstance(args, ast.arguments):
            for default in args.defaults + [d for d in args.kw_defaults if d is not None]:
                self.visit(default)

    def visit_JoinedStr(self, node):
        """f-strings are messages: not mutated."""

    def visit_AnnAssign(self, node):
        if node.value is not None:
            self.visit(node.value)

    def visit_Assign(self, node):
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return
        self.generic_visit(node)

    def visit_Compare(self, node):
        operands = [node.left] + node.comparators
        for op, left, right in zip(node.ops, operands, operands[1:]):
            symbol, new = COMPARE[type(op)]
            self.add_operator(node, left, right, symbol, new)
        self.generic_visit(node)

    def visit_BinOp(self, node):
        if type(node.op) in ARITHMETIC:
            self.add_operator(node, node.left, node.right, *ARITHMETIC[type(node.op)])
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        if type(node.op) in ARITHMETIC:
            symbol, new = ARITHMETIC[type(node.op)]
            self.add_operator(node, node.target, node.value, symbol + "=", new + "=")
        self.generic_visit(node)

    def visit_UnaryOp(self, node):
        if isinstance(node.op, ast.USub):
            start, end = self.span(node)
            self.add(node, start, self.span(node.operand)[0], "", "unary '-' dropped")
        self.generic_visit(node)

    def visit_Constant(self, node):
        value = node.value
        if isinstance(value, bool):
            new = repr(not value)
        elif isinstance(value, (int, float)):
            new = repr(type(value)(1 if value == 0 else 0 if value == 1 else value + 1))
        else:
            return
        start, end = self.span(node)
        self.add(node, start, end, new, f"constant {self.text(node)} -> {new}")

    def visit_Call(self, node):
        if _is_range(node) and not node.keywords:
            step = node.args[2] if len(node.args) == 3 else None
            descending = isinstance(step, ast.UnaryOp) and isinstance(step.op, ast.USub)
            bounds = node.args[:2] if len(node.args) > 1 else [None, node.args[0]]
            start, stop = bounds
            if start is not None and not _is_int_constant(start):
                self.add_shift(node, start, -1 if descending else 1, "range start")
            if not _is_int_constant(stop):
                self.add_shift(node, stop, 1, "range stop")
                self.add_shift(node, stop, -1, "range stop")
        self.generic_visit(node)

    def visit_Subscript(self, node):
        index = node.slice
        for element in index.elts if isinstance(index, ast.Tuple) else [index]:
            if isinstance(element, ast.Slice):
                if element.lower is not None and not _is_int_constant(element.lower):
                    self.add_shift(node, element.lower, 1, "slice start")
                if element.upper is not None and not _is_int_constant(element.upper):
                    self.add_shift(node, element.upper, -1, "slice stop")
            elif (isinstance(element, (ast.BinOp, ast.UnaryOp)) and not _is_int_constant(element)
                  or isinstance(element, ast.Name) and element.id in self.counters):
                self.add_shift(node, element, 1, "index")
        self.generic_visit(node)


def _callee(call):
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _is_range(node):
    return isinstance(node, ast.Call) and _callee(node) in ("range", "prange")


def _is_int_constant(node):
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, int)


def find_mutants(path):
    """Every mutant of the Python file ``path`` (relative to the repository root)."""
    source = (ROOT / path).read_bytes()
    finder = _Finder(source, str(path))
    finder.visit(ast.parse(source, filename=str(path)))
    mutants = sorted(set(finder.mutants), key=lambda m: (m.start, m.description))
    # a mutant must still be Python (e.g. 'a ** -b' -> 'a * -b' is, '1e-3' -> '0' is)
    valid = []
    for m in mutants:
        try:
            ast.parse(m.apply(source))
        except SyntaxError:
            continue
        valid.append(m)
    return valid


def run_tests(tests, timeout):
    """Run pytest as CI does, with fresh Numba, bytecode and hypothesis stores.

    Returns (outcome, seconds, output): outcome is 'passed', 'failed' or 'timeout'.
    """
    with tempfile.TemporaryDirectory(prefix="snnumba-mutant-") as tmp:
        env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", NUMBA_CACHE_DIR=os.path.join(tmp, "numba"),
                   PYTHONPYCACHEPREFIX=os.path.join(tmp, "pyc"),
                   HYPOTHESIS_STORAGE_DIRECTORY=os.path.join(tmp, "hypothesis"))
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            output, _ = proc.communicate(timeout=timeout)
        except BaseException as exc:  # a timeout, or Ctrl-C: end pytest and all it started
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            output, _ = proc.communicate()
            if not isinstance(exc, subprocess.TimeoutExpired):
                raise
            return "timeout", time.perf_counter() - start, output.decode(errors="replace")
        seconds = time.perf_counter() - start
        text = output.decode(errors="replace")
        if proc.returncode in (4, 5):
            raise SystemExit(f"pytest could not run {' '.join(tests)} (exit {proc.returncode}):\n{text[-2000:]}")
        return ("passed" if proc.returncode == 0 else "failed"), seconds, text


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def mutate_and_test(mutant, tests, timeout):
    """Write ``mutant`` over its file, run the tests, and always put the original back."""
    path = ROOT / mutant.path
    original = path.read_bytes()
    stat = path.stat()
    try:
        path.write_bytes(mutant.apply(original))
        return run_tests(tests, timeout)
    finally:
        path.write_bytes(original)
        # the original's time stamp: Numba's cache of the real source stays valid
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", help="source files to mutate, one mutant at a time")
    parser.add_argument("--tests", nargs="+", default=["tests"], metavar="PATH",
                        help="test files or folders to run (default: the whole suite)")
    parser.add_argument("--sample", type=int, metavar="N", help="run N random mutants of each file")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="per mutant (default: 4x the unmutated run + 60 s)")
    parser.add_argument("--match", nargs="+", metavar="TEXT",
                        help="keep only mutants whose listing contains one of these (e.g. ':38:83')")
    parser.add_argument("--list", action="store_true", help="only list the mutants")
    parser.add_argument("--skip-baseline", action="store_true",
                        help="do not first check that the tests pass on the unmutated code")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    mutants = []
    for name in args.files:
        path = pathlib.Path(name).resolve()
        if not path.is_file() or path.suffix != ".py":
            raise SystemExit(f"'files': {name} is not a Python file")
        found = find_mutants(path.relative_to(ROOT))
        if args.sample is not None:
            # a shuffle, not random.sample: the sample of N is then the start of the sample of N + 1
            random.Random(f"{args.seed}:{path.relative_to(ROOT)}").shuffle(found)
            found = sorted(found[:args.sample], key=lambda m: m.start)
        mutants.extend(found)
    if args.match:
        mutants = [m for m in mutants if any(text in str(m) for text in args.match)]
    if args.list:
        for i, m in enumerate(mutants, 1):
            print(f"{i:4d}  {m}")
        print(f"{len(mutants)} mutants")
        return 0

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupt)
    timeout = args.timeout
    if not args.skip_baseline:
        outcome, seconds, output = run_tests(args.tests, timeout or 1800)
        if outcome != "passed":
            raise SystemExit(f"the tests do not pass on the unmutated code:\n{output[-3000:]}")
        print(f"unmutated: passed in {seconds:.0f} s", flush=True)
        timeout = timeout or 4 * seconds + 60
    timeout = timeout or 600

    survivors, timeouts = [], 0
    for i, m in enumerate(mutants, 1):
        outcome, seconds, _ = mutate_and_test(m, args.tests, timeout)
        timeouts += outcome == "timeout"
        label = {"failed": "killed", "timeout": "killed (timeout)", "passed": "SURVIVED"}[outcome]
        if outcome == "passed":
            survivors.append(m)
        print(f"[{i}/{len(mutants)}] {label:16s} {m}  ({seconds:.0f} s)", flush=True)
    killed = len(mutants) - len(survivors)
    print(f"\nscore: {killed}/{len(mutants)} killed"
          + (f" ({100 * killed / len(mutants):.0f} %)" if mutants else "")
          + (f", {timeouts} by timeout" if timeouts else ""))
    if survivors:
        print("survivors:")
        for m in survivors:
            line = (ROOT / m.path).read_text().splitlines()[m.line - 1].strip()
            print(f"  {m}\n      {line}")
    return 0 if not survivors else 1


if __name__ == "__main__":
    sys.exit(main())
