"""The class-diagram generator: the standard's output, round trips, rewriting a Diagram section."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT
from gates_support import make_repo, mlrepo

from mlrepo.govern import diagrams

SOURCE = '''
import abc
from dataclasses import dataclass


class Base(abc.ABC):
    """A base."""

    def __init__(self, layers: list[int], rate: float = 0.1, *extra, name: str = "b", **options) -> None:
        self.layers = layers

    @abc.abstractmethod
    def forward(self, x: "np.ndarray") -> dict[str, float]:
        """Forward."""

    def _protected(self, y) -> None:
        pass

    def __private(self) -> int:
        return 1

    def __call__(self, x: int) -> int:
        return x

    @property
    def size(self) -> int:
        """Size."""
        return 1

    @size.setter
    def size(self, value: int) -> None:
        pass

    @staticmethod
    def make(n: int) -> "Base":
        """Make."""

    @classmethod
    def load(cls, path: str) -> "Base":
        """Load."""


@dataclass
class Config:
    """Config."""

    units: int
    dropout: float = 0.5


class Child(Base):
    """A child without its own constructor."""

    def forward(self, x) -> dict[str, float]:
        """Forward."""
        return {}
'''


def test_generator_follows_the_standard() -> None:
    """One block per class, inputs first, markers + # - ~, classifiers $ and *, inheritance lines."""
    text = diagrams.render(diagrams.specs_from_source(SOURCE))
    assert text == "\n".join(
        [
            "classDiagram",
            '    class Base["Base"] {',
            "        layers ~list[int]~",
            "        rate ~float~",
            "        *extra",
            "        name ~str~",
            "        **options",
            "        +forward(x ~'np.ndarray'~) dict[str, float]*",
            "        #_protected(y) None",
            "        -__private() int",
            "        ~__call__(x ~int~) int",
            "        +size() int",
            "        +make(n ~int~) 'Base'$",
            "        +load(path ~str~) 'Base'$",
            "    }",
            '    class Config["Config"] {',
            "        units ~int~",
            "        dropout ~float~",
            "    }",
            '    class Child["Child"] {',
            "        +forward(x) dict[str, float]",
            "    }",
            "    Base <|-- Child",
        ]
    )


def test_round_trip() -> None:
    """parse(render(specs)) == specs and render(parse(text)) == text."""
    specs = diagrams.specs_from_source(SOURCE)
    text = diagrams.render(specs)
    assert diagrams.parse(text) == specs
    assert diagrams.render(diagrams.parse(text)) == text


def test_iris_diagram_is_the_generated_one() -> None:
    """The hand-written IrisClassifier diagram is exactly what the generator writes."""
    source = (ROOT / "models/IrisClassifier/__init__.py").read_text()
    block = diagrams.find_block(source)
    assert block is not None
    code = diagrams.specs_from_source((ROOT / "models/IrisClassifier/model.py").read_text())
    assert block[2] == diagrams.render(code)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("graph TD", "classDiagram"),
        ('classDiagram\n    class A["B"] {\n    }', 'class B["B"]'),
        ('classDiagram\n    class A["A"] {\n        +run(', "is not"),
        ('classDiagram\n    class A["A"] {\n        +run()\n        x ~int~\n    }', "before the methods"),
        ('classDiagram\n    class A["A"] {\n        x ~int~', "not closed"),
    ],
)
def test_parse_rejects_non_standard_diagrams(text: str, message: str) -> None:
    """A diagram outside the standard is an error that says which line and why."""
    with pytest.raises(diagrams.DiagramSyntaxError, match="line") as caught:
        diagrams.parse(text)
    assert message in str(caught.value)


def test_differences_name_what_changed() -> None:
    """A changed constructor, method or return type is named in the stale report."""
    old = diagrams.specs_from_source(
        "class A:\n    def __init__(self, x: int): ...\n    def f(self) -> int: ...\n"
    )
    new = diagrams.specs_from_source(
        "class A:\n    def __init__(self, y: int): ...\n    def f(self) -> str: ...\n"
    )
    found = diagrams.differences(new, old)
    assert any("constructor of A changed" in d for d in found)
    assert any("A.f changed" in d and "+f() str" in d for d in found)
    assert diagrams.differences(new, new) == []


def test_command_rewrites_only_the_diagram_section(tmp_path: Path) -> None:
    """`mlrepo diagrams` updates a stale section, leaves the rest byte for byte; --check agrees."""
    repo = make_repo(tmp_path)
    init = repo / "models/IrisClassifier/__init__.py"
    model = repo / "models/IrisClassifier/model.py"
    before = init.read_text()
    assert mlrepo("diagrams", "--check", "--root", str(repo)).returncode == 0
    model.write_text(
        model.read_text().replace("def build(self) -> Pipeline:", "def build(self, n: int) -> Pipeline:")
    )
    stale = mlrepo("diagrams", "--check", "--root", str(repo))
    assert stale.returncode == 1 and "stale: models/IrisClassifier/__init__.py" in stale.stdout
    assert init.read_text() == before
    assert mlrepo("diagrams", "--root", str(repo)).returncode == 0
    after = init.read_text()
    assert after == before.replace("+build() Pipeline", "+build(n ~int~) Pipeline")
    assert mlrepo("check", "--root", str(repo)).returncode == 0


def test_section_added_when_missing() -> None:
    """A docstring without a Diagram section gets one at its end; a module without docstring is refused."""
    specs = diagrams.specs_from_source("class A:\n    def run(self) -> None: ...\n")
    updated = diagrams.update_source('"""A model.\n\n## Description\n\nText.\n"""\n\nX = 1\n', specs)
    assert updated.endswith(
        '## Diagram\n\n```mermaid\nclassDiagram\n    class A["A"] {\n        +run() None\n'
        '    }\n```\n"""\n\nX = 1\n'
    )
    with pytest.raises(ValueError, match="no docstring"):
        diagrams.update_source("X = 1\n", specs)
