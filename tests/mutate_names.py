"""The breaks audit 8 found that no tool made, for ``make mutate ... KINDS=names``:

- a module-level or class-level constant changed (``LIMIT = 1000``: 1001 and 2000; a float doubled and halved;
  a string wrapped in ``XX``);
- an UPPER_CASE name swapped for another one of the module (defined in it or imported into it) whose value is a
  different literal of the same type (``default=DEFAULT_RESULT_TTL`` -> ``default=DEFAULT_MAX_WAIT``);
- ``self.name`` read in a method -> the literal its class body sets ``name`` to (a renamed instance, a subclass);
- ``d.get(k) or D`` -> ``d.get(k, D)`` (a stored ``None`` is no longer replaced);
- ``return``/``break`` -> ``continue`` and ``continue`` -> ``break`` inside a loop;
- an f-string's format spec dropped, or its precision made ``.0f`` (``{x:g}``, ``{x:.1f}`` -> ``{x:.0f}``);
- ``A | None`` -> ``A`` (and ``Optional[A]`` -> ``A``) where it is evaluated at run time: an expression
  (``create_model`` tuples, type aliases) or a field annotation of a class with bases or decorators (pydantic
  models, dataclasses, TypedDicts).

mutmut only runs breaks inside the functions it can switch at call time (its trampolines): plain functions and
methods, not decorated ones (a ``@property``), nothing at module or class level, and nothing run once at import.
So this script is mutmut (``python tests/mutate_names.py run|results|show ...`` in the mutation venv) with its
breaks replaced by these, inside those functions; every other break of these kinds ("outside": its name has
``.s_``, e.g. ``qwen_ci_tool._errors.s_DEFAULT_X__1``) is run after mutmut by tests/mutate_names_run.py as a
plain edit of a copy of the tree, with a fresh pytest over the selected tests that ran code of the module (or of
a module naming what the break changed).
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libcst as cst
import libcst.matchers as m
from libcst.metadata import (
    ExpressionContext,
    ExpressionContextProvider,
    MetadataWrapper,
    PositionProvider,
)

UPPER = re.compile(r"_*[A-Z][A-Z0-9_]*")
#: mutmut leaves these functions alone (mutmut.mutation.file_mutation), so breaks in them run outside it.
NEVER_TRAMPOLINED = {"__getattribute__", "__setattr__", "__new__"}
LITERAL_TYPES = (int, float, str, bytes)


def _literal(node: cst.BaseExpression) -> Any:
    """The value of *node* when it is a plain number or string literal (not a bool), else None."""
    if not isinstance(
        node,
        (
            cst.Integer,
            cst.Float,
            cst.SimpleString,
            cst.ConcatenatedString,
            cst.UnaryOperation,
        ),
    ):
        return None
    try:
        value = ast.literal_eval(cst.Module([]).code_for_node(node))
    except (ValueError, SyntaxError):
        return None
    return value if type(value) in LITERAL_TYPES else None


def _changed_literal(node: cst.BaseExpression) -> Iterator[cst.BaseExpression]:
    value = _literal(node)
    if isinstance(value, int):
        news: list[Any] = [value + 1, value * 2]
    elif isinstance(value, float):
        news = [value * 2, value / 2]
    elif isinstance(node, cst.SimpleString):
        yield node.with_changes(value=f"{node.prefix}{node.quote}XX{node.raw_value}XX{node.quote}")
        return
    else:
        return
    for new in dict.fromkeys(news):
        if new != value:
            yield cst.parse_expression(repr(new))


@dataclass
class Where:
    """Where a node is: what the kinds need to know of its surroundings."""

    level: str  # "module", "class" (a statement directly in the module or a class body) or "inner"
    load: bool = False  # a name read (not assigned, not an attribute)
    annotation: str = ""  # "" (not in one), "runtime" (a field of a class with bases or decorators), "static"
    constants: dict[str, Any] = field(default_factory=dict)  # the UPPER_CASE literals the module can name
    fields: dict[str, cst.BaseExpression] = field(default_factory=dict)  # the enclosing class's literal attributes


def constant(node: cst.CSTNode, where: Where) -> Iterable[cst.CSTNode]:
    """``NAME = 1000`` at module or class level -> 1001, 2000 (a float x2 and /2, a string wrapped in XX)."""
    if where.level == "inner" or not isinstance(node, (cst.Assign, cst.AnnAssign)) or node.value is None:
        return
    targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
    if len(targets) != 1 or not isinstance(targets[0], cst.Name) or targets[0].value.startswith("__"):
        return
    if isinstance(node, cst.AnnAssign) and m.matches(node.annotation.annotation, m.Name("TypeAlias")):
        return  # a type written as a string: for the type checker only
    for value in _changed_literal(node.value):
        yield node.with_changes(value=value)


def swap_name(node: cst.CSTNode, where: Where) -> Iterable[cst.CSTNode]:
    """An UPPER_CASE constant read -> the next constant of the module with another value of the same type."""
    if not (isinstance(node, cst.Name) and where.load and not where.annotation and node.value in where.constants):
        return
    names = list(where.constants)
    value = where.constants[node.value]
    at = names.index(node.value)
    for other in names[at + 1 :] + names[:at]:
        if type(where.constants[other]) is type(value) and where.constants[other] != value:
            yield node.with_changes(value=other)
            return


def self_literal(node: cst.CSTNode, where: Where) -> Iterable[cst.CSTNode]:
    """``self.name`` read in a method -> the literal its class sets it to (``"qwen_code_interpreter"``): an
    instance or subclass given another value must still use its own."""
    if m.matches(node, m.Attribute(value=m.Name("self"))) and where.load and not where.annotation:
        literal = where.fields.get(node.attr.value)  # type: ignore[attr-defined]
        if literal is not None:
            yield literal


def get_or(node: cst.CSTNode, where: Where) -> Iterable[cst.CSTNode]:
    """``d.get(k) or D`` -> ``d.get(k, D)``: a key present with None (or another falsy value) stays so."""
    if not (isinstance(node, cst.BooleanOperation) and isinstance(node.operator, cst.Or)):
        return
    call = node.left
    if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value == "get"):
        return
    if len(call.args) == 1 and not call.args[0].keyword and not call.args[0].star:
        first = call.args[0].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        yield call.with_changes(args=[first, cst.Arg(node.right)])


class _Exits(cst.CSTVisitor):
    """The ``return``/``break``/``continue`` statements of one loop body (not of loops or functions inside it)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[cst.Return | cst.Break | cst.Continue] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, (cst.Return, cst.Break, cst.Continue)):
            self.found.append(node)
        return not isinstance(node, (cst.For, cst.While, cst.FunctionDef, cst.ClassDef, cst.Lambda))


def loop_exit(node: cst.CSTNode, where: Where) -> Iterable[cst.CSTNode]:
    """In a loop's body: ``return``/``break`` -> ``continue``, ``continue`` -> ``break``."""
    if not isinstance(node, (cst.For, cst.While)):
        return
    exits = _Exits()
    node.body.visit(exits)
    for old in exits.found:
        new = cst.Break() if isinstance(old, cst.Continue) else cst.Continue()
        yield node.with_changes(body=node.body.deep_replace(old, new.with_changes(semicolon=old.semicolon)))


SPEC = re.compile(r"(?P<head>.*?)(?P<precision>\.\d+)?(?P<type>[gGfFeE%]?)")


def format_spec(node: cst.CSTNode, where: Where) -> Iterable[cst.CSTNode]:
    """``{x:g}`` -> ``{x}`` and ``{x:.0f}``; ``{x:.1f}`` -> ``{x}`` and ``{x:.0f}``."""
    if not isinstance(node, cst.FormattedStringExpression) or not node.format_spec:
        return
    if not all(isinstance(part, cst.FormattedStringText) for part in node.format_spec):
        return
    spec = "".join(part.value for part in node.format_spec)  # type: ignore[union-attr]
    yield node.with_changes(format_spec=None)
    parts = SPEC.fullmatch(spec)
    if parts and (parts["type"] in ("g", "G") or parts["precision"]):
        new = f"{parts['head']}.0{parts['type'] if parts['type'] not in ('', 'g', 'G') else 'f'}"
        if new != spec:
            yield node.with_changes(format_spec=[cst.FormattedStringText(new)])


def _is_none(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


def optional(node: cst.CSTNode, where: Where) -> Iterable[cst.CSTNode]:
    """``A | None`` -> ``A`` and ``Optional[A]`` -> ``A``, where evaluated at run time."""
    if where.annotation == "static":
        return
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
        if _is_none(node.right):
            yield node.left
        elif _is_none(node.left):
            yield node.right
    elif m.matches(
        node,
        m.Subscript(value=m.Name("Optional"), slice=[m.SubscriptElement(slice=m.Index())]),
    ):
        yield node.slice[0].slice.value  # type: ignore[attr-defined]


Kind = Callable[[cst.CSTNode, Where], Iterable[cst.CSTNode]]
NAMES: list[Kind] = [
    constant,
    swap_name,
    self_literal,
    get_or,
    loop_exit,
    format_spec,
    optional,
]


@dataclass
class Break:
    node: cst.CSTNode
    new: cst.CSTNode
    line: int
    function: cst.FunctionDef | None  # the function mutmut switches it in, or None: run outside mutmut
    scope: str  # the top-level statement it is in (a function, class or constant name), for its name


class _ModuleLevel(cst.CSTVisitor):
    """The simple statements run at import: in the module's body and its ``if``/``try`` blocks, not in a def/class."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[cst.BaseSmallStatement] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.SimpleStatementLine):
            self.found.extend(node.body)
            return False
        return not isinstance(node, (cst.FunctionDef, cst.ClassDef))


def module_constants(source: str, path: Path | None = None, root: Path | None = None, depth: int = 2) -> dict:
    """The UPPER_CASE names a module binds to a number or string literal: its own, then those it imports from
    the packages under *root* (followed *depth* imports deep), in order."""
    found: dict[str, Any] = {}
    statements = _ModuleLevel()
    cst.parse_module(source).visit(statements)
    for small in statements.found:
        if isinstance(small, (cst.Assign, cst.AnnAssign)) and small.value is not None:
            targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
            value = _literal(small.value)
            name = targets[0].value if len(targets) == 1 and isinstance(targets[0], cst.Name) else ""
            if value is not None and UPPER.fullmatch(name):
                found[name] = value
        elif (
            isinstance(small, cst.ImportFrom)
            and path
            and root
            and depth
            and not isinstance(small.names, cst.ImportStar)
        ):
            origin = _imported_file(small, path, root)
            if origin is None:
                continue
            theirs = module_constants(origin.read_text(encoding="utf-8"), origin, root, depth - 1)
            for alias in small.names:
                name = cst.Module([]).code_for_node(alias.name)
                mine = alias.asname.name.value if alias.asname else name  # type: ignore[union-attr]
                if name in theirs and UPPER.fullmatch(mine):
                    found.setdefault(mine, theirs[name])
    return found


def _imported_file(node: cst.ImportFrom, path: Path, root: Path) -> Path | None:
    dotted = cst.Module([]).code_for_node(node.module).split(".") if node.module else []
    if node.relative:
        base = path.parent
        for _ in range(len(node.relative) - 1):
            base = base.parent
        target = base.joinpath(*dotted)
    else:
        target = root.joinpath(*dotted)
    for candidate in (target.with_suffix(".py"), target / "__init__.py"):
        if candidate.is_file() and root in candidate.resolve().parents:
            return candidate
    return None


def _class_literals(node: cst.ClassDef) -> dict[str, cst.BaseExpression]:
    """The attributes a class body sets to a number or string literal (not dunders)."""
    found: dict[str, cst.BaseExpression] = {}
    for line in node.body.body:
        for small in line.body if isinstance(line, cst.SimpleStatementLine) else ():
            if isinstance(small, (cst.Assign, cst.AnnAssign)) and small.value is not None:
                target = small.targets[0].target if isinstance(small, cst.Assign) else small.target
                if (
                    isinstance(target, cst.Name)
                    and not target.value.startswith("__")
                    and _literal(small.value) is not None
                ):
                    found[target.value] = small.value
    return found


def _trampolined(node: cst.FunctionDef, in_class: cst.ClassDef | None) -> bool:
    """Whether mutmut switches this top-level function or method at call time."""
    if node.name.value in NEVER_TRAMPOLINED:
        return False
    if in_class is not None and node.name.value in (
        "__init__",
        "_generate_next_value_",
    ):
        bases = {cst.Module([]).code_for_node(b.value).rsplit(".", 1)[-1] for b in in_class.bases}
        if bases & {"Enum", "IntEnum", "StrEnum", "Flag", "IntFlag"}:
            return False
    if not node.decorators:
        return True
    only = node.decorators[0].decorator
    return len(node.decorators) == 1 and isinstance(only, cst.Name) and only.value in ("staticmethod", "classmethod")


class _Finder(cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider, ExpressionContextProvider)

    def __init__(
        self,
        constants: dict,
        skip_lines: set[int],
        skip_blocks: set[int],
        kinds: list[Kind],
    ) -> None:
        super().__init__()
        self.constants, self.skip_lines, self.skip_blocks, self.kinds = (
            constants,
            skip_lines,
            skip_blocks,
            kinds,
        )
        self.stack: list[cst.CSTNode] = []
        self.breaks: list[Break] = []

    def _line(self, node: cst.CSTNode) -> int:
        position = self.get_metadata(PositionProvider, node, None)
        return position.start.line if position else 0

    def _where(self, node: cst.CSTNode) -> tuple[Where, cst.FunctionDef | None, str]:
        stack = self.stack
        functions = [n for n in stack if isinstance(n, (cst.FunctionDef, cst.Lambda))]
        top = stack[1] if len(stack) > 1 else node
        scope = "module"
        if isinstance(top, (cst.FunctionDef, cst.ClassDef)):
            scope = top.name.value
        elif isinstance(top, cst.SimpleStatementLine) and isinstance(top.body[0], (cst.Assign, cst.AnnAssign)):
            target = top.body[0].targets[0].target if isinstance(top.body[0], cst.Assign) else top.body[0].target
            scope = target.value if isinstance(target, cst.Name) else "module"
        function = None
        if isinstance(top, cst.FunctionDef) and _trampolined(top, None):
            function = top
        elif isinstance(top, cst.ClassDef) and len(stack) > 3 and isinstance(stack[3], cst.FunctionDef):
            function = stack[3] if _trampolined(stack[3], top) else None
        parent = stack[-1] if stack else None
        grand = stack[-2] if len(stack) > 1 else None
        level = "inner"
        if not functions and isinstance(parent, cst.SimpleStatementLine):
            if isinstance(grand, cst.Module):
                level = "module"
            elif isinstance(grand, cst.IndentedBlock) and isinstance(stack[-3], cst.ClassDef):
                level = "class"
        annotation = ""
        for i, n in enumerate(stack):
            if isinstance(n, cst.Annotation):
                owner, cls = stack[i - 1], stack[i - 4] if i >= 4 else None
                runtime = isinstance(owner, cst.AnnAssign) and isinstance(cls, cst.ClassDef)
                runtime = runtime and bool(cls.bases or cls.decorators) and not functions  # type: ignore[union-attr]
                annotation = "runtime" if runtime else "static"
        load = isinstance(node, (cst.Name, cst.Attribute)) and self.get_metadata(
            ExpressionContextProvider, node, None
        ) == (ExpressionContext.LOAD)
        load = load and not any(isinstance(n, (cst.Import, cst.ImportFrom)) for n in stack)
        classes = [n for n in stack if isinstance(n, cst.ClassDef)]
        fields = _class_literals(classes[-1]) if classes and functions else {}
        return Where(level, load, annotation, self.constants, fields), function, scope

    def on_visit(self, node: cst.CSTNode) -> bool:
        line = self._line(node)
        if line in self.skip_blocks and isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.BaseCompoundStatement)):
            self.stack.append(node)  # on_leave still comes
            return False
        if line not in self.skip_lines and line not in self.skip_blocks:
            where, function, scope = self._where(node)
            for kind in self.kinds:
                for new in kind(node, where):
                    self.breaks.append(Break(node, new, line, function, scope))
        self.stack.append(node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.stack.pop()


def find_breaks(
    wrapper: MetadataWrapper,
    constants: dict,
    skip_lines: set[int] | None = None,
    skip_blocks: set[int] | None = None,
    kinds: list[Kind] | None = None,
) -> list[Break]:
    """Every break of *kinds* (default: all of ``NAMES``) in the wrapped module, skipping the lines mutmut's
    pragmas exclude (``skip_lines`` the node on it, ``skip_blocks`` the whole statement starting there)."""
    finder = _Finder(
        constants,
        skip_lines or set(),
        skip_blocks or set(),
        NAMES if kinds is None else kinds,
    )
    wrapper.visit(finder)
    return finder.breaks


PRAGMA = re.compile(r"#\s*pragma:\s*no mutate(?P<block> block)?")


@dataclass
class Outside:
    """A break outside mutmut's trampolines, with the module's whole new text."""

    name: str
    path: str
    line: int
    code: str
    diff: str


def module_name(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".").removesuffix(".__init__")


def outside_breaks(path: str, source: str, root: Path) -> list[Outside]:
    """The breaks of *path* (relative to *root*) that mutmut cannot switch, each as the module's new text."""
    skip_lines, skip_blocks = set(), set()
    for number, text in enumerate(source.splitlines(), 1):
        if pragma := PRAGMA.search(text):
            (skip_blocks if pragma["block"] else skip_lines).add(number)
    wrapper = MetadataWrapper(cst.parse_module(source))
    constants = module_constants(source, root / path, root)
    found: list[Outside] = []
    count: dict[str, int] = {}
    for b in find_breaks(wrapper, constants, skip_lines, skip_blocks):
        if b.function is not None:
            continue
        code = wrapper.module.deep_replace(b.node, b.new).code  # type: ignore[union-attr]
        try:
            compile(code, path, "exec")
        except SyntaxError:
            continue
        count[b.scope] = count.get(b.scope, 0) + 1
        diff = "".join(difflib.unified_diff(source.splitlines(True), code.splitlines(True), path, path, n=1))
        found.append(
            Outside(
                f"{module_name(path)}.s_{b.scope}__{count[b.scope]}",
                path,
                b.line,
                code,
                diff,
            )
        )
    return found
