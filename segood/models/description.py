"""What network a checkpoint holds: the model description it carries, read without running code.

- A converted checkpoint (tools/convert_checkpoint.py) stores a plain dict in `meta['model']`.
- A checkpoint of tools/train.py (mmengine) stores the resolved config's text in `meta['cfg']`.
  mmengine would execute that text to read it; here it is parsed (`ast`) and only literals and
  `dict(...)` calls are evaluated, so a checkpoint can never run code through its config.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Mapping
from typing import Any


def network_config(model_cfg: Any) -> dict:
    """The `segood.models.build_model` dict inside a training wrapper (SegModel / AEModel)."""
    cfg = dict(model_cfg)
    inner = cfg.get("model")
    return dict(inner) if isinstance(inner, Mapping) or hasattr(inner, "keys") else cfg


class _DictCalls(ast.NodeTransformer):
    """`dict(a=1, b=2)` -> `{'a': 1, 'b': 2}`, so `ast.literal_eval` can read it."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        is_dict = isinstance(node.func, ast.Name) and node.func.id == "dict" and not node.args
        if is_dict and all(k.arg is not None for k in node.keywords):
            keys = [ast.Constant(k.arg) for k in node.keywords]
            return ast.Dict(keys=keys, values=[k.value for k in node.keywords])
        return node


def config_text_value(text: str, name: str) -> Any:
    """The literal value assigned to `name` at the top of a config's text, or None."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    for statement in tree.body:
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and statement.targets[0].id == name
        ):
            try:
                return ast.literal_eval(_DictCalls().visit(statement.value))
            except (ValueError, TypeError, SyntaxError, RecursionError):
                return None
    return None


def checkpoint_model_config(raw: object) -> dict | None:
    """The `build_model` dict a loaded checkpoint describes itself with, or None."""
    meta = raw.get("meta") if isinstance(raw, Mapping) else None
    if not isinstance(meta, Mapping):
        return None
    model = meta.get("model")
    if isinstance(model, Mapping) and "type" in model:
        return dict(model)
    text = meta.get("cfg")
    if isinstance(text, str):
        model = config_text_value(text, "model")
        if isinstance(model, Mapping):
            return network_config(model)
    return None


def with_defaults(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """`cfg` with every argument it leaves out at its default (tuples as lists)."""
    from segood.models.builder import MODELS

    cls = MODELS.get(cfg.get("type"))
    params = inspect.signature(cls).parameters if cls else {}
    full = {k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty}
    full.update(cfg)
    if full.get("stem") == "deep" and full.get("stem_channels") is None:
        from segood.models.resnet import CSAIL_STEM

        full["stem_channels"] = CSAIL_STEM
    return {k: list(v) if isinstance(v, list | tuple) else v for k, v in full.items()}


# what must agree between a config's model and a checkpoint's own description
AGREEMENT_KEYS = ("type", "num_classes", "encoder", "stem", "stem_channels")


def disagreements(config: Mapping[str, Any], described: Mapping[str, Any]) -> list[str]:
    """'key: config X, checkpoint Y' for each of AGREEMENT_KEYS that differs."""
    a, b = with_defaults(config), with_defaults(described)
    return [
        f"{key}: config {a.get(key)!r}, checkpoint {b.get(key)!r}"
        for key in AGREEMENT_KEYS
        if a.get(key) != b.get(key) and not (key != "type" and a.get("type") != b.get("type"))
    ]
