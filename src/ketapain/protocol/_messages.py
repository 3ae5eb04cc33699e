"""Turn pydantic validation errors into one readable line per problem.

Each line is ``<source>: <key path>: <message>``: the key path is dotted with 0-based array
indices (``arms[2].components[0].dose.mg_per_kg``), as the keys appear in the TOML file; enum
errors list the allowed values and unknown keys list the allowed keys.

Generic over the model: the path is resolved from the model class given to
:func:`format_errors` (the tags of a tagged union, ``Annotated[Model, Tag("mg")]``, are not
keys of the file and are skipped), so this module needs nothing of :mod:`._models`, which
imports it.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, Tag, ValidationError

from ketapain.protocol._problems import Problems, dotted

__all__ = ["format_errors", "show_value"]

_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "an array",
    "tuple_type": "an array",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "dict_type": "a table",
}
_COMPARE = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


def show_value(value: Any) -> str:
    """A value as it would be written in TOML-ish form, for messages.

    Examples
    --------
    >>> show_value("wald"), show_value(True), show_value(0.0), show_value([1, "a"])
    ("'wald'", 'true', '0', "[1, 'a']")
    >>> show_value(1e300), show_value(10**30)
    ('1e+300', '1e+30')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(show_value(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int) and abs(value) >= 10**20:
        if value.bit_length() < 1000:
            return f"{float(value):.3g}"
        try:
            return f"an integer of {len(str(abs(value)))} digits"
        except ValueError:  # beyond sys.get_int_max_str_digits()
            return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    return repr(value)


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list | tuple):
        return "an array"
    return type(value).__name__


def _unwrap(ann: Any) -> Any:
    """Strip Annotated and Optional (X | None) wrappers."""
    while True:
        origin = get_origin(ann)
        if origin is Annotated:
            ann = get_args(ann)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(ann) if a is not type(None)]
            if len(args) != 1:
                return ann
            ann = args[0]
        else:
            return ann


def _tagged_member(union: Any, tag: str) -> Any:
    """The member ``Model`` of a tagged union written ``Annotated[Model, Tag(tag)]``, or None."""
    for member in get_args(union):
        if get_origin(member) is Annotated and any(isinstance(m, Tag) and m.tag == tag for m in get_args(member)[1:]):
            return get_args(member)[0]
    return None


def _resolve(model: type[BaseModel], loc: tuple[str | int, ...]) -> tuple[str, Any, type[BaseModel] | None]:
    """Display path of ``loc`` in ``model``, the annotation found there (or None) and the last
    model walked."""
    ann: Any = model
    parts: list[str | int] = []
    parent: type[BaseModel] | None = None
    for el in loc:
        ann = _unwrap(ann) if ann is not None else None
        if isinstance(el, int):
            parts.append(el)
            args = get_args(ann) if get_origin(ann) in (tuple, list) else ()
            ann = args[0] if args else None
            continue
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            parent = ann
            field = ann.model_fields.get(el)
            parts.append(el)
            ann = None if field is None else field.annotation
            continue
        member = _tagged_member(ann, el) if get_origin(ann) in (Union, types.UnionType) else None
        if member is not None:
            ann = member  # a union tag: not a key of the file
            continue
        parts.append(el)
        ann = None
    return dotted(parts), ann, parent


def _one(model: type[BaseModel], error: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    loc = tuple(error["loc"])
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "value_error" and isinstance(ctx.get("error"), Problems):
        return [((*loc, *path), msg) for path, msg in ctx["error"].problems]
    if kind == "value_error":
        return [(loc, str(ctx.get("error", error["msg"])))]
    if kind == "missing":
        return [(loc, "required key missing")]
    if kind == "extra_forbidden":
        _, _, parent = _resolve(model, loc)
        allowed = f"; allowed keys: {', '.join(parent.model_fields)}" if parent is not None else ""
        return [(loc, f"unknown key{allowed}")]
    if kind == "literal_error":
        _, ann, _ = _resolve(model, loc)
        ann = _unwrap(ann)
        if get_origin(ann) is Literal:
            allowed = ", ".join(show_value(a) if isinstance(a, bool) else str(a) for a in get_args(ann))
        else:
            allowed = str(ctx.get("expected", "?"))
        return [(loc, f"{show_value(value)} is not one of {allowed}")]
    if kind == "finite_number":
        return [(loc, f"{show_value(value)} is not a finite number")]
    if kind in _COMPARE:
        bound = next(iter(ctx.values()))
        return [(loc, f"{show_value(value)} is not {_COMPARE[kind]} {show_value(bound)}")]
    if kind == "too_short":
        return [(loc, f"needs at least {ctx.get('min_length')} entries, got {ctx.get('actual_length')}")]
    if kind == "too_long":
        return [(loc, f"allows at most {ctx.get('max_length')} entries, got {ctx.get('actual_length')}")]
    if kind in _EXPECTED:
        return [(loc, f"expected {_EXPECTED[kind]}, got {show_value(value)} ({_type_name(value)})")]
    if kind == "route":
        got = value.get("route") if isinstance(value, dict) else None
        shown = "no route key" if got is None else f"route = {show_value(got)}"
        return [(loc, f"{error['msg']}; got {shown}")]
    if kind == "dose_shape":
        got = f"a table with keys {', '.join(value)}" if isinstance(value, dict) and value else show_value(value)
        return [(loc, f"{error['msg']}; got {got}")]
    return [(loc, str(error["msg"]))]


def format_errors(exc: ValidationError, *, source: str, model: type[BaseModel]) -> list[str]:
    """One line per problem in a protocol's :class:`pydantic.ValidationError`.

    Parameters
    ----------
    exc
        The error raised by ``model.model_validate``.
    source
        The file (or other source) name that starts every line.
    model
        The model that was validated (``Protocol``): key paths are resolved in it.

    Returns
    -------
    list of str
        ``"<source>: <key path>: <message>"`` (without the key path for whole-file problems).
    """
    lines = []
    errors = exc.errors(include_url=False)
    locs = [tuple(e["loc"]) for e in errors]
    for error in errors:
        loc0 = tuple(error["loc"])
        if error["type"] == "too_short" and any(len(o) > len(loc0) and o[: len(loc0)] == loc0 for o in locs):
            continue  # an array too short only because one of its entries failed: that entry's error says why
        for loc, msg in _one(model, error):
            path, _, _ = _resolve(model, loc)
            lines.append(f"{source}: {path}: {msg}" if path else f"{source}: {msg}")
    return lines
