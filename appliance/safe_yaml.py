"""The one loader for user-supplied YAML: size, document count and alias expansion are bounded.

Every file a user hands the appliance (profiles, gate policies, Katib Experiments, compiled
pipelines, the catalog, the image lock, review input) is read through here, so a "billion laughs"
document is refused in milliseconds instead of expanding until the machine runs out of memory.
"""

from __future__ import annotations

from typing import Any

import yaml

from appliance.errors import BadInput

# PyYAML's C-accelerated loader when libyaml is present (it is in our wheels); pure Python otherwise.
Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Nodes that YAML aliases may add beyond the document's own: Kubernetes manifests do not need
# aliases, and nested aliases ("billion laughs") expand exponentially for anything that walks them.
ALIAS_BUDGET = 10_000
MAX_BYTES = 64 * 1024 * 1024
MAX_DOCUMENTS = 10_000
FIX = "write the values out instead of using YAML aliases, or split the file"


class AliasBudgetExceeded(Exception):
    """A document whose aliases expand past ALIAS_BUDGET nodes, or refer to themselves."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line  # 0-based, within the parsed text


def check_aliases(root: yaml.Node) -> None:
    """Refuse a node graph whose aliases expand past ALIAS_BUDGET extra nodes or form a cycle.
    Linear in the graph: each node's expanded size is computed once (iteratively, so deep
    nesting cannot exhaust the stack)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            active.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            continue
        if key in sizes:
            continue
        if key in active:
            raise AliasBudgetExceeded("a YAML alias refers to the node that contains it",
                                      node.start_mark.line)
        active.add(key)
        stack.append((node, True))
        stack += [(c, False) for c in children if id(c) not in sizes]
    extra = sizes[id(root)] - len(sizes)
    if extra > ALIAS_BUDGET:
        raise AliasBudgetExceeded(
            f"YAML aliases expand this document by {extra} nodes, more than the {ALIAS_BUDGET} "
            "allowed", root.start_mark.line)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def load_all(text: str, source: str, loader_class: Any = None) -> list[Any]:
    """Every document of `text` (empty documents included, as None). yaml.YAMLError propagates
    for the caller to word; limits are BadInput naming `source`. `loader_class` is a SafeLoader
    subclass with extra constructors, when the caller needs one."""
    if len(text) > MAX_BYTES:
        raise BadInput(f"{source} is too large", f"{len(text)} characters, more than {MAX_BYTES}",
                       "pass a smaller file")
    loader = (loader_class or Loader)(text)
    documents: list[Any] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if len(documents) >= MAX_DOCUMENTS:
                raise BadInput(f"{source} has too many YAML documents",
                               f"more than {MAX_DOCUMENTS}", "split the file")
            if node is None:
                documents.append(None)
                continue
            try:
                check_aliases(node)
            except AliasBudgetExceeded as exc:
                raise BadInput(f"{source}: document {len(documents) + 1} (line {exc.line + 1}) "
                               "is refused", str(exc), FIX) from None
            documents.append(loader.construct_document(node))
    finally:
        loader.dispose()
    return documents


def load(text: str, source: str, loader_class: Any = None) -> Any:
    """The single document of `text` (None when empty); more than one is a yaml.YAMLError, as with
    yaml.safe_load."""
    documents = load_all(text, source, loader_class)
    if len(documents) > 1:
        raise yaml.composer.ComposerError(
            "expected a single document in the stream", None, "but found another document", None)
    return documents[0] if documents else None
