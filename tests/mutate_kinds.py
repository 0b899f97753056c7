"""The breaks mutmut does not make, for ``make mutate ... KINDS=more``: this script is mutmut itself
(``python tests/mutate_kinds.py run|results|show ...``, in the mutation venv) with mutmut's own kinds of break
replaced by these:

- one clause of an ``and``/``or`` dropped (``a or b`` becomes ``a``, then ``b``);
- a plain condition forced each way (``if t:`` becomes ``if (t) and False:``, then ``if (t) or True:``), for the
  tests of ``if``, ``elif``, ``while`` and a comprehension's ``if`` that are not a comparison or an ``and``/``or``
  (mutmut flips those): a truth test, an ``isinstance``, a call, with or without ``not``;
- one type dropped from an ``isinstance`` tuple or an ``except (A, B)``;
- a test against None read as a truth test (``x is not None`` becomes ``x``, ``x is None`` becomes ``not x``);
- a search from the other end (``partition``/``rpartition``, ``find``/``rfind``, ``index``/``rindex``);
- ``round(x)`` read as ``int(x)``;
- a clamp dropped (``min(a, b)`` and ``max(a, b)`` become ``a``, then ``b``);
- a normalising call dropped (``s.lower()``, ``.upper()``, ``.casefold()``, ``.strip()``, ``.lstrip()``, ``.rstrip()``
  with no argument become ``s``);
- ``type=float`` (an argparse option, a JSON reader's hook) read as ``type=int``.

Independent audits found these kinds among the last breaks the suite missed after every module had been through
mutmut. The names of the mutants are mutmut's (numbered per function), so a run with these kinds keeps its
results in a work tree of its own (tests/mutate.py) and ``show``/``results`` must go through this script too.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# Run as a script, this directory comes first on sys.path; the tests mutmut runs must not import from it.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

import libcst as cst
import libcst.matchers as m


def _parenthesised(node: Any) -> Any:
    return node if node.lpar else node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


def drop_clause(node: cst.BooleanOperation) -> Iterable[cst.BaseExpression]:
    """``a or b`` -> ``a``, ``b`` (a longer chain nests, so every clause is dropped once)."""
    for side in (node.left, node.right):
        yield _parenthesised(side)


def _plain(test: cst.BaseExpression) -> bool:
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return _plain(test.expression)
    if isinstance(test, cst.Name) and test.value in ("True", "False"):
        return False  # `while True:` forced each way is the same loop
    return not isinstance(test, (cst.Comparison, cst.BooleanOperation))


def _forced(test: cst.BaseExpression) -> Iterable[cst.BaseExpression]:
    if _plain(test):
        for operator, literal in ((cst.And(), "False"), (cst.Or(), "True")):
            yield cst.BooleanOperation(left=_parenthesised(test), operator=operator, right=cst.Name(literal))


def force_condition(node: cst.If | cst.While | cst.CompIf) -> Iterable[cst.CSTNode]:
    for test in _forced(node.test):
        yield node.with_changes(test=test)


def _without_each(types: cst.Tuple) -> Iterable[cst.BaseExpression]:
    """*types* with each element dropped once: a tuple still, or the one element left on its own."""
    elements = list(types.elements)
    for i in range(len(elements)):
        rest = [*elements[:i], *elements[i + 1 :]]
        if len(rest) == 1:
            yield rest[0].value
        else:
            rest[-1] = rest[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            yield types.with_changes(elements=rest)


def drop_isinstance_type(node: cst.Call) -> Iterable[cst.Call]:
    if not (m.matches(node.func, m.Name("isinstance")) and len(node.args) == 2):
        return
    types = node.args[1].value
    if isinstance(types, cst.Tuple) and len(types.elements) > 1:
        for value in _without_each(types):
            yield node.with_changes(args=[node.args[0], node.args[1].with_changes(value=value)])


def drop_except_type(node: cst.ExceptHandler) -> Iterable[cst.ExceptHandler]:
    if isinstance(node.type, cst.Tuple) and len(node.type.elements) > 1:
        for value in _without_each(node.type):
            yield node.with_changes(type=value)


def none_test_as_truth(node: cst.Comparison) -> Iterable[cst.BaseExpression]:
    if len(node.comparisons) != 1 or not m.matches(node.comparisons[0].comparator, m.Name("None")):
        return
    operator = node.comparisons[0].operator
    if isinstance(operator, cst.IsNot):
        yield _parenthesised(node.left)
    elif isinstance(operator, cst.Is):
        yield cst.UnaryOperation(cst.Not(), _parenthesised(node.left))


_OTHER_END = {"partition": "rpartition", "find": "rfind", "index": "rindex"}
_OTHER_END |= {end: start for start, end in _OTHER_END.items()}


def search_from_the_other_end(node: cst.Call) -> Iterable[cst.Call]:
    if isinstance(node.func, cst.Attribute) and node.func.attr.value in _OTHER_END:
        yield node.with_changes(func=node.func.with_changes(attr=cst.Name(_OTHER_END[node.func.attr.value])))


def round_as_int(node: cst.Call) -> Iterable[cst.Call]:
    if m.matches(node.func, m.Name("round")) and len(node.args) == 1:
        yield node.with_changes(func=cst.Name("int"))


def drop_clamp(node: cst.Call) -> Iterable[cst.BaseExpression]:
    """``min(a, b)`` -> ``a``, ``b``: a bound that is never applied."""
    two = len(node.args) == 2 and all(arg.keyword is None and not arg.star for arg in node.args)
    if two and m.matches(node.func, m.Name("min") | m.Name("max")):
        for arg in node.args:
            yield _parenthesised(arg.value)


_NORMALISERS = ("lower", "upper", "casefold", "strip", "lstrip", "rstrip")


def drop_normaliser(node: cst.Call) -> Iterable[cst.BaseExpression]:
    """``s.lower()`` -> ``s``: a case or whitespace left as it came."""
    if isinstance(node.func, cst.Attribute) and node.func.attr.value in _NORMALISERS and not node.args:
        yield _parenthesised(node.func.value)


def float_type_as_int(node: cst.Call) -> Iterable[cst.Call]:
    """``add_argument(..., type=float)`` -> ``type=int``: ``1.5`` refused, or cut to a whole number."""
    for i, arg in enumerate(node.args):
        if arg.keyword is not None and arg.keyword.value == "type" and m.matches(arg.value, m.Name("float")):
            args = list(node.args)
            args[i] = arg.with_changes(value=cst.Name("int"))
            yield node.with_changes(args=args)


MORE = [
    (cst.BooleanOperation, drop_clause),
    (cst.If, force_condition),
    (cst.While, force_condition),
    (cst.CompIf, force_condition),
    (cst.Call, drop_isinstance_type),
    (cst.ExceptHandler, drop_except_type),
    (cst.Comparison, none_test_as_truth),
    (cst.Call, search_from_the_other_end),
    (cst.Call, round_as_int),
    (cst.Call, drop_clamp),
    (cst.Call, drop_normaliser),
    (cst.Call, float_type_as_int),
]


def main() -> int:
    from mutmut.__main__ import cli
    from mutmut.mutation import mutators

    mutators.mutation_operators[:] = MORE  # the list mutmut's file_mutation imported: replaced in place
    sys.argv[0] = "mutmut"
    cli()
    return 0


if __name__ == "__main__":
    sys.exit(main())
