"""Multi-document YAML loading with line numbers, fast on large bundles (C parser, lazy lines)."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import yaml

from appliance.errors import BadInput, InvalidDocument
from appliance.review.model import Path

# PyYAML's C-accelerated loader when libyaml is present (it is in our wheels); pure Python otherwise.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# A line that starts with `---` (then blank or space) always starts a document: the YAML spec
# forbids it inside scalars, so splitting on it is exact and lets each document parse alone.
_DOC_START = re.compile(r"^---(?=[ \t\r\n]|$)", re.MULTILINE)
# Directives and explicit document ends change how the stream splits; those files take the slow path.
_SLOW_MARKERS = re.compile(r"^(%|\.\.\.(?=[ \t\r\n]|$))", re.MULTILINE)
_CRD_KIND = re.compile(r"^kind:[ \t]*CustomResourceDefinition[ \t\r]*$", re.MULTILINE)
_SCHEMA_KEY = re.compile(r"^( *)(?:- )?openAPIV3Schema:[ \t]*$")


@dataclass
class Document:
    """One Kubernetes object from a source, with what is needed to find a field's line later."""

    source: str
    index: int
    obj: dict[str, Any]
    first_line: int = 0  # 1-based line where `text` starts; 0 when the object has no text
    text: str | None = None
    node: yaml.Node | None = None
    prefix: Path = ()  # path of the object inside its document (items[i] of a v1 List)
    _root: yaml.Node | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind") or "")

    def line_of(self, path: Path = ()) -> int:
        """1-based line of the deepest existing node along path (0 when lines are unknown)."""
        root = self._root_node()
        if root is None:
            return 0
        node = root
        line = root.start_mark.line
        for part in (*self.prefix, *path):
            found = _child(node, part)
            if found is None:
                break
            # A mapping entry is reported at its key (the value of `securityContext:` starts on
            # the next line); a list item at its first line.
            line, node = found
        return self.first_line + line

    def _root_node(self) -> yaml.Node | None:
        if self._root is None:
            if self.node is not None:
                self._root = self.node
            elif self.text is not None:
                try:
                    self._root = yaml.compose(self.text, Loader=_Loader)
                except yaml.YAMLError:
                    return None
        return self._root


def _child(node: yaml.Node, part: str | int) -> tuple[int, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == part:
                return key.start_mark.line, value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int):
        if 0 <= part < len(node.value):
            item = node.value[part]
            return item.start_mark.line, item
    return None


def load_paths(paths: list[str]) -> list[Document]:
    """Load every file (a directory means its *.yaml/*.yml files, `-` means stdin)."""
    documents: list[Document] = []
    for raw in paths:
        if raw == "-":
            documents += load_text(sys.stdin.read(), "<stdin>")
            continue
        path = FsPath(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml"))
            if not files:
                raise BadInput(f"{raw}: no .yaml or .yml files in this directory",
                               fix="pass manifest files with -f")
        else:
            files = [path]
        for file in files:
            documents += load_text(_read(file), str(file))
    return documents


def _read(path: FsPath) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file", fix="check the path given with -f") from None
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text", str(exc), "pass YAML manifests") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot be read", exc.strerror or str(exc)) from None


def load_text(text: str, source: str) -> list[Document]:
    """Parse a multi-document YAML stream; every syntax problem is reported with its line."""
    if _SLOW_MARKERS.search(text):
        return _load_whole(text, source)
    problems: list[str] = []
    documents: list[Document] = []
    starts = [m.start() for m in _DOC_START.finditer(text)]
    bounds = ([0] if not starts or starts[0] != 0 else []) + starts
    line = 1
    previous = 0
    for index, start in enumerate(bounds):
        line += text.count("\n", previous, start)
        previous = start
        end = bounds[index + 1] if index + 1 < len(bounds) else len(text)
        chunk = text[start:end]
        if chunk.startswith("---"):
            chunk = "   " + chunk[3:]  # keep columns; the marker itself carries no content
        try:
            obj = _parse_chunk(chunk)
        except yaml.YAMLError as exc:
            problems.append(_describe(exc, line))
            continue
        documents += _objects(obj, source, len(documents), line, chunk, None, problems)
    if problems:
        raise InvalidDocument(source, problems, "fix the YAML at the lines shown")
    return documents


def _parse_chunk(chunk: str) -> Any:
    if _CRD_KIND.search(chunk):
        # CRD schemas are most of a platform bundle's bytes and hold nothing a security review
        # reads; skipping them (keeping the line count) makes large bundles several times faster.
        pruned = _prune_schemas(chunk)
        if pruned is not chunk:
            try:
                return yaml.load(pruned, Loader=_Loader)
            except yaml.YAMLError:
                pass  # parse the full text instead, so the error names the real line
    return yaml.load(chunk, Loader=_Loader)


def _prune_schemas(chunk: str) -> str:
    lines = chunk.split("\n")
    out: list[str] = []
    skip_deeper_than = -1
    changed = False
    for line in lines:
        if skip_deeper_than >= 0:
            stripped = line.lstrip(" ")
            if not stripped.strip() or len(line) - len(stripped) > skip_deeper_than:
                out.append("")
                changed = True
                continue
            skip_deeper_than = -1
        match = _SCHEMA_KEY.match(line)
        if match:
            indent = len(match.group(1)) + (2 if line.lstrip(" ").startswith("- ") else 0)
            skip_deeper_than = indent
        out.append(line)
    return "\n".join(out) if changed else chunk


def _load_whole(text: str, source: str) -> list[Document]:
    loader = _Loader(text)
    documents: list[Document] = []
    problems: list[str] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            obj = loader.construct_document(node)
            documents += _objects(obj, source, len(documents), 1, None, node, problems)
    except yaml.YAMLError as exc:
        problems.append(_describe(exc, 1))
    finally:
        loader.dispose()
    if problems:
        raise InvalidDocument(source, problems, "fix the YAML at the lines shown")
    return documents


def _objects(obj: Any, source: str, count: int, line: int, text: str | None,
             node: yaml.Node | None, problems: list[str]) -> list[Document]:
    if obj is None:
        return []  # an empty document (comments only) is not an object
    where = f"document starting at line {line}" if text is not None else f"document {count + 1}"
    if not isinstance(obj, dict):
        problems.append(f"{where}: expected a Kubernetes object (a mapping), got {_type(obj)}")
        return []
    if obj.get("kind") == "List" and isinstance(obj.get("items"), list):
        out: list[Document] = []
        for i, item in enumerate(obj["items"]):
            if isinstance(item, dict) and item.get("kind"):
                out.append(Document(source, count + len(out), item, line, text, node, ("items", i)))
            else:
                problems.append(f"{where}: items[{i}] is not a Kubernetes object")
        return out
    missing = [k for k in ("apiVersion", "kind") if not isinstance(obj.get(k), str) or not obj[k]]
    if missing:
        problems.append(f"{where}: missing {' and '.join(missing)} (not a Kubernetes object)")
        return []
    return [Document(source, count, obj, line, text, node)]


def load_objects(objects: list[dict[str, Any]], source: str) -> list[Document]:
    """Wrap objects that come without text (a renderer's output): no line numbers."""
    problems: list[str] = []
    documents: list[Document] = []
    for obj in objects:
        documents += _objects(obj, source, len(documents), 0, None, None, problems)
    if problems:
        raise InvalidDocument(source, problems)
    return documents


def _describe(exc: yaml.YAMLError, first_line: int) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
    if mark is None:
        return f"not valid YAML: {problem}"
    return f"line {first_line + mark.line}, column {mark.column + 1}: not valid YAML: {problem}"


def _type(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number",
            bool: "a boolean"}.get(type(value), type(value).__name__)
