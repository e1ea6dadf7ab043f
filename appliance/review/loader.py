"""Multi-document YAML loading with line numbers, fast on large bundles (C parser, lazy lines)."""

from __future__ import annotations

import gc
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import yaml

from appliance.errors import BadInput, InvalidDocument
from appliance.review.model import Path
from appliance.safe_yaml import AliasBudgetExceeded, check_aliases

# PyYAML's C-accelerated loader when libyaml is present (it is in our wheels); pure Python otherwise.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_SEPARATOR_END = " \t\r\n"
_FIX = "fix the documents at the lines shown: each must be valid YAML and a Kubernetes object " \
       "with apiVersion and kind"
_SCHEMA_TOKEN = "openAPIV3Schema:"
_NO_ALIASES = "Kubernetes manifests do not need aliases; write the values out"


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


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: loading builds ~10^5 objects that all stay alive, and
    each automatic collection walks them again for nothing (about a tenth of a review's time on
    the platform bundle). Reference counting still frees everything as usual."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_text(text: str, source: str) -> list[Document]:
    """Parse a multi-document YAML stream; every syntax problem is reported with its line."""
    with gc_paused():
        return _load_text(text, source)


def _load_text(text: str, source: str) -> list[Document]:
    # Directives and explicit document ends change how the stream splits: the slow path.
    if _line_starts(text, "%") or _line_starts(text, "..."):
        return _load_whole(text, source)
    problems: list[str] = []
    documents: list[Document] = []
    # A line that starts with `---` (then blank or space) always starts a document: the YAML spec
    # forbids it inside scalars, so splitting on it is exact and lets each document parse alone.
    starts = _line_starts(text, "---")
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
            obj, node = _parse_chunk(chunk)
        except yaml.YAMLError as exc:
            problems.append(_describe(exc, line))
            continue
        except AliasBudgetExceeded as exc:
            problems.append(f"line {line + exc.line}: {exc} ({_NO_ALIASES})")
            continue
        documents += _objects(obj, source, len(documents), line, chunk, node, problems)
    if problems:
        raise InvalidDocument(source, problems, _FIX)
    return documents


def _line_starts(text: str, marker: str) -> list[int]:
    """Offsets of lines that start with marker followed by a blank (str.find: a MULTILINE regex
    costs a quarter second per pass over a 12 MB bundle)."""
    out = []
    at = 0 if text.startswith(marker) else text.find("\n" + marker)
    while at >= 0:
        start = at if at == 0 and text.startswith(marker) else at + 1
        after = start + len(marker)
        if marker == "%" or after >= len(text) or text[after] in _SEPARATOR_END:
            out.append(start)
        at = text.find("\n" + marker, start + 1)
    return out


def _is_crd(chunk: str) -> bool:
    for start in _line_starts(chunk, "kind:"):
        end = chunk.find("\n", start)
        if chunk[start + 5:end if end >= 0 else len(chunk)].strip() == "CustomResourceDefinition":
            return True
    return False


def _parse_chunk(chunk: str) -> tuple[Any, yaml.Node | None]:
    """The object, and the node tree it was built from when that tree maps every field to its
    line (kept, so a finding's line costs no second parse; None for a pruned CRD)."""
    if _is_crd(chunk):
        # CRD schemas are most of a platform bundle's bytes and hold nothing a security review
        # reads; skipping them (keeping the line count) makes large bundles several times faster.
        pruned = _prune_schemas(chunk)
        if pruned is not chunk:
            try:
                return _load_with_node(pruned)[0], None
            except yaml.YAMLError:
                pass  # parse the full text instead, so the error names the real line
    return _load_with_node(chunk)


def _load_with_node(chunk: str) -> tuple[Any, yaml.Node | None]:
    # What yaml.load does (compose, then construct), keeping the composed tree.
    loader = _Loader(chunk)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        check_aliases(node)
        return loader.construct_document(node), node
    finally:
        loader.dispose()


def _prune_schemas(chunk: str) -> str:
    """Blank out every `openAPIV3Schema:` block (its more-indented lines), keeping line count."""
    parts: list[str] = []
    position = 0
    found = chunk.find(_SCHEMA_TOKEN)
    while found >= 0:
        # str.find, then a check of the line around it: a regex anchored at line starts is
        # ~1000x slower on these 11 MB of deeply indented text.
        line_start = chunk.rfind("\n", 0, found) + 1
        line_end = chunk.find("\n", found)
        line_end = len(chunk) if line_end < 0 else line_end
        prefix = chunk[line_start:found]
        rest = chunk[found + len(_SCHEMA_TOKEN):line_end]
        if prefix.strip(" ") in ("", "-") and not rest.strip() and found >= position:
            indent = len(prefix)  # "- " counts: the key sits at the column after it
            # The block ends at the next line indented no deeper than the key.
            end = re.compile(rf"\n {{0,{indent}}}[^ \n]").search(chunk, line_end)
            stop = end.start() if end else len(chunk)
            parts += [chunk[position:line_end], "\n" * chunk.count("\n", line_end, stop)]
            position = stop
        found = chunk.find(_SCHEMA_TOKEN, max(found + 1, position))
    if not parts:
        return chunk
    parts.append(chunk[position:])
    return "".join(parts)


def _load_whole(text: str, source: str) -> list[Document]:
    loader = _Loader(text)
    documents: list[Document] = []
    problems: list[str] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            check_aliases(node)
            obj = loader.construct_document(node)
            documents += _objects(obj, source, len(documents), 1, None, node, problems)
    except yaml.YAMLError as exc:
        problems.append(_describe(exc, 1))
    except AliasBudgetExceeded as exc:
        problems.append(f"line {1 + exc.line}: {exc} ({_NO_ALIASES})")
    finally:
        loader.dispose()
    if problems:
        raise InvalidDocument(source, problems, _FIX)
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
