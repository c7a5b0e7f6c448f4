"""Class diagrams from code: generate a model's mermaid `classDiagram` from its AST, parse one back.

The repository's class-diagram standard (DESIGN.md), which `python -m mlrepo diagrams` writes
into the `## Diagram` section of each `models/<Model>/__init__.py`:

```
classDiagram
    class IrisClassifier["IrisClassifier"] {
        C ~float~
        +build() Pipeline
    }
    Base <|-- IrisClassifier
```

- one block per top-level class of `model.py`, named `class X["X"]`, in source order;
- first the constructor's inputs, `name ~type~` (no marker: they are not members), from
  `__init__`, or from the annotated fields of a dataclass;
- then every other method, `<marker>name(arg ~type~, ...) ReturnType`, with `$` after a static
  or class method and `*` after an abstract one; a property is a method without arguments;
- markers: `+` public (`name`), `#` protected (`_name`), `-` private (`__name`), `~` internal:
  Python's protocol methods (`__call__`, `__len__`...), which the interpreter calls, not users;
- `Base <|-- X` when a class derives from another class of the same diagram.

Types are the annotations as written in the source; an argument without one is just `name`.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

INDENT = "    "
"""Indentation of one level inside the diagram."""


@dataclass(frozen=True)
class Param:
    """An argument: its name (with `*` / `**` for variadics) and its annotation ('' when none)."""

    name: str
    type: str = ""


@dataclass(frozen=True)
class Method:
    """A method line: visibility marker, name, arguments, return type, classifier (`$`, `*` or '')."""

    visibility: str
    name: str
    params: tuple[Param, ...] = ()
    returns: str = ""
    classifier: str = ""


@dataclass(frozen=True)
class ClassSpec:
    """One class block: its name, constructor inputs, methods, and bases within the same diagram."""

    name: str
    inputs: tuple[Param, ...] = ()
    methods: tuple[Method, ...] = ()
    bases: tuple[str, ...] = ()


class DiagramSyntaxError(ValueError):
    """A diagram that does not follow the standard (reported with its line within the diagram)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line} of the diagram: {message}")
        self.line = line


def visibility(name: str) -> str:
    """The marker of a member name: `+` public, `#` protected, `-` private, `~` internal (dunder)."""
    if name.startswith("__") and name.endswith("__"):
        return "~"
    if name.startswith("__"):
        return "-"
    if name.startswith("_"):
        return "#"
    return "+"


def _type(node: ast.expr | None) -> str:
    return "" if node is None else ast.unparse(node)


def _params(args: ast.arguments, drop_first: bool) -> tuple[Param, ...]:
    positional = [*args.posonlyargs, *args.args]
    if drop_first and positional:
        positional = positional[1:]
    found = [Param(a.arg, _type(a.annotation)) for a in positional]
    if args.vararg:
        found.append(Param("*" + args.vararg.arg, _type(args.vararg.annotation)))
    found.extend(Param(a.arg, _type(a.annotation)) for a in args.kwonlyargs)
    if args.kwarg:
        found.append(Param("**" + args.kwarg.arg, _type(args.kwarg.annotation)))
    return tuple(found)


def _decorators(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    names = set()
    for deco in node.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        names.add(target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", ""))
    return names


def _is_dataclass(node: ast.ClassDef) -> bool:
    for deco in node.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name == "dataclass":
            return True
    return False


def class_spec(node: ast.ClassDef, known: set[str]) -> ClassSpec:
    """The diagram block of one class definition.

    Args:
        node: the class's AST.
        known: names of the classes in the same diagram (for `<|--` lines).

    Returns:
        The class's constructor inputs, methods and in-diagram bases.
    """
    inputs: tuple[Param, ...] = ()
    methods = []
    for item in node.body:
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
            decorators = _decorators(item)
            if decorators & {"setter", "deleter", "overload"}:
                continue
            static = bool(decorators & {"staticmethod", "classmethod"})
            if item.name == "__init__":
                inputs = _params(item.args, drop_first=True)
                continue
            classifier = "*" if "abstractmethod" in decorators else "$" if static else ""
            params = (
                ()
                if "property" in decorators
                else _params(item.args, drop_first="staticmethod" not in decorators)
            )
            methods.append(Method(visibility(item.name), item.name, params, _type(item.returns), classifier))
    if not inputs and _is_dataclass(node):
        inputs = tuple(
            Param(item.target.id, _type(item.annotation))
            for item in node.body
            if isinstance(item, ast.AnnAssign)
            and isinstance(item.target, ast.Name)
            and not _type(item.annotation).startswith(("ClassVar", "typing.ClassVar"))
        )
    bases = tuple(b.id for b in node.bases if isinstance(b, ast.Name) and b.id in known)
    return ClassSpec(node.name, inputs, tuple(methods), bases)


def specs_from_source(source: str) -> list[ClassSpec]:
    """The diagram of a module's source: one block per top-level class, in source order.

    Raises:
        SyntaxError: the source does not parse.
    """
    return specs_from_tree(ast.parse(source))


def specs_from_tree(tree: ast.Module) -> list[ClassSpec]:
    """Like `specs_from_source`, from an already parsed module."""
    classes = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    known = {node.name for node in classes}
    return [class_spec(node, known) for node in classes]


def _param_text(param: Param) -> str:
    return f"{param.name} ~{param.type}~" if param.type else param.name


def method_text(method: Method) -> str:
    """One method line, e.g. `+fit(x ~DataFrame~) Pipeline$`."""
    args = ", ".join(_param_text(p) for p in method.params)
    returns = f" {method.returns}" if method.returns else ""
    return f"{method.visibility}{method.name}({args}){returns}{method.classifier}"


def render(specs: list[ClassSpec]) -> str:
    """The mermaid `classDiagram` text of `specs` (no fence), in the repository's standard."""
    lines = ["classDiagram"]
    for spec in specs:
        lines.append(f'{INDENT}class {spec.name}["{spec.name}"] {{')
        lines.extend(f"{INDENT * 2}{_param_text(p)}" for p in spec.inputs)
        lines.extend(f"{INDENT * 2}{method_text(m)}" for m in spec.methods)
        lines.append(f"{INDENT}}}")
    for spec in specs:
        lines.extend(f"{INDENT}{base} <|-- {spec.name}" for base in spec.bases)
    return "\n".join(lines)


_CLASS = re.compile(r'^class (\w+)\["(\w+)"\]\s*\{$')
_METHOD = re.compile(r"^([+\-#~])(\w+)\((.*)\)(?: (.+?))?([$*]?)$")
_PARAM = re.compile(r"^(\*{0,2}\w+)(?: ~(.*)~)?$")
_INHERIT = re.compile(r"^(\w+) <\|-- (\w+)$")


def _split(text: str) -> list[str]:
    """Split arguments on the commas that are not inside brackets."""
    parts, depth, current = [], 0, []
    for char in text:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if "".join(current).strip():
        parts.append("".join(current).strip())
    return parts


def _parse_param(text: str, line: int) -> Param:
    match = _PARAM.match(text)
    if not match:
        raise DiagramSyntaxError(line, f"`{text}` is not `name ~type~`")
    return Param(match.group(1), match.group(2) or "")


def parse(text: str) -> list[ClassSpec]:
    """Parse a diagram written in the standard back into class specs (the inverse of `render`).

    Raises:
        DiagramSyntaxError: a line does not follow the standard.
    """
    lines = [line.strip() for line in text.strip().splitlines()]
    if not lines or lines[0] != "classDiagram":
        raise DiagramSyntaxError(1, "the diagram must start with `classDiagram`")
    specs: dict[str, dict] = {}
    current: dict | None = None
    for number, line in enumerate(lines[1:], start=2):
        if not line or line.startswith("%%"):
            continue
        if current is None:
            if match := _CLASS.match(line):
                if match.group(1) != match.group(2):
                    raise DiagramSyntaxError(number, f'write `class {match.group(2)}["{match.group(2)}"]`')
                current = {"name": match.group(2), "inputs": [], "methods": [], "bases": []}
                specs[current["name"]] = current
            elif match := _INHERIT.match(line):
                if match.group(2) not in specs:
                    raise DiagramSyntaxError(number, f"`{match.group(2)}` has no class block above")
                specs[match.group(2)]["bases"].append(match.group(1))
            else:
                raise DiagramSyntaxError(
                    number, f'expected `class Name["Name"] {{` or `A <|-- B`, got `{line}`'
                )
        elif line == "}":
            current = None
        elif "(" in line:
            match = _METHOD.match(line)
            if not match:
                raise DiagramSyntaxError(number, f"`{line}` is not `+name(arg ~type~) Return`")
            params = tuple(_parse_param(p, number) for p in _split(match.group(3)))
            current["methods"].append(
                Method(match.group(1), match.group(2), params, match.group(4) or "", match.group(5))
            )
        else:
            if current["methods"]:
                raise DiagramSyntaxError(number, "constructor inputs come before the methods")
            current["inputs"].append(_parse_param(line, number))
    if current is not None:
        raise DiagramSyntaxError(len(lines), f"class `{current['name']}` is not closed with `}}`")
    return [
        ClassSpec(s["name"], tuple(s["inputs"]), tuple(s["methods"]), tuple(s["bases"]))
        for s in specs.values()
    ]


def differences(code: list[ClassSpec], diagram: list[ClassSpec]) -> list[str]:
    """What the diagram gets wrong about the code, one short sentence each (empty when it is right)."""
    found = []
    by_name = {s.name: s for s in diagram}
    for spec in code:
        drawn = by_name.pop(spec.name, None)
        if drawn is None:
            found.append(f"class {spec.name} is missing")
            continue
        if drawn.inputs != spec.inputs:
            shown = ", ".join(_param_text(p) for p in spec.inputs) or "nothing"
            found.append(f"the constructor of {spec.name} changed (it takes {shown})")
        drawn_methods = {m.name: m for m in drawn.methods}
        for method in spec.methods:
            old = drawn_methods.pop(method.name, None)
            if old is None:
                found.append(f"{spec.name}.{method.name} is missing (`{method_text(method)}`)")
            elif old != method:
                found.append(f"{spec.name}.{method.name} changed: the code says `{method_text(method)}`")
        found.extend(f"{spec.name}.{name} is no longer in the code" for name in drawn_methods)
        if drawn.bases != spec.bases:
            found.append(f"the bases of {spec.name} changed")
        if not found and [m.name for m in drawn.methods] != [m.name for m in spec.methods]:
            found.append(f"the methods of {spec.name} are not in source order")
    found.extend(f"class {name} is no longer in the code" for name in by_name)
    if not found and [s.name for s in diagram] != [s.name for s in code]:
        found.append("the classes are not in source order")
    return found


SECTION = re.compile(r"^#{1,6}\s+(Diagram|Diagrama)\b.*$", re.MULTILINE)
"""The heading of a model's Diagram section (English or Spanish)."""
_NEXT_HEADING = re.compile(r"^#{1,6}\s+\S", re.MULTILINE)
_FENCE = re.compile(r"```mermaid[ \t]*\n(.*?)\n[ \t]*```", re.DOTALL)


def find_block(source: str) -> tuple[int, int, str] | None:
    """Where the Diagram section's mermaid block is in an `__init__.py` source.

    Returns:
        `(start, end, diagram text)`, the character offsets of the whole fenced block, or None
        when the section or its block is missing.
    """
    heading = SECTION.search(source)
    if heading is None:
        return None
    following = _NEXT_HEADING.search(source, heading.end())
    limit = following.start() if following else len(source)
    fence = _FENCE.search(source, heading.end(), limit)
    if fence is None:
        return None
    return fence.start(), fence.end(), fence.group(1)


def fenced(specs: list[ClassSpec]) -> str:
    """The fenced mermaid block that the Diagram section holds."""
    return "```mermaid\n" + render(specs) + "\n```"


def update_source(source: str, specs: list[ClassSpec]) -> str:
    """The `__init__.py` source with its Diagram section's block regenerated (or added).

    Raises:
        ValueError: the module has no docstring to hold the section.
    """
    block = find_block(source)
    if block is not None:
        return source[: block[0]] + fenced(specs) + source[block[1] :]
    heading = SECTION.search(source)
    if heading is not None:
        return source[: heading.end()] + "\n\n" + fenced(specs) + "\n" + source[heading.end() :]
    tree = ast.parse(source)
    doc = tree.body[0] if tree.body and isinstance(tree.body[0], ast.Expr) else None
    if doc is None or not isinstance(doc.value, ast.Constant) or not isinstance(doc.value.value, str):
        raise ValueError("the module has no docstring: write its Description first")
    lines = source.splitlines(keepends=True)
    end = sum(len(line) for line in lines[: doc.end_lineno - 1]) + doc.end_col_offset - 3
    return source[:end].rstrip() + "\n\n## Diagram\n\n" + fenced(specs) + "\n" + source[end:]


def write(root: Path, check_only: bool = False) -> list[Path]:
    """Regenerate the Diagram section of every `models/<Model>/__init__.py` that has a model.py.

    Args:
        root: the repository root.
        check_only: report what would change without writing.

    Returns:
        The `__init__.py` files that changed (or would change).

    Raises:
        ValueError: a model's `__init__.py` has no docstring (its message names the file).
    """
    changed = []
    for model in sorted((root / "models").glob("*/model.py")):
        init = model.parent / "__init__.py"
        if not init.is_file():
            continue
        source = init.read_text(encoding="utf-8")
        # Every class model.py and common.py define is drawn (model.py's first).
        code = model.read_text(encoding="utf-8")
        common = model.parent / "common.py"
        if common.is_file():
            code += "\n" + common.read_text(encoding="utf-8")
        try:
            updated = update_source(source, specs_from_source(code))
        except ValueError as exc:
            raise ValueError(f"{init.relative_to(root)}: {exc}") from exc
        if updated != source:
            changed.append(init)
            if not check_only:
                init.write_text(updated, encoding="utf-8")
    return changed
