"""Load an experiment config from YAML plus ``section.key=value`` overrides, failing early and in one line."""

from __future__ import annotations

import difflib
import itertools
import reprlib
from pathlib import Path
from typing import Any, Iterable, Optional, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from keras_tl.config.schema import ExperimentConfig
from keras_tl.errors import ConfigError


def load_config(path: Optional[str | Path] = None, overrides: Iterable[str] = (), **sections: Any) -> ExperimentConfig:
    """Read ``path`` (YAML), apply ``overrides`` ("a.b=c") and keyword sections, and validate everything."""
    raw: dict = {}
    if path is not None:
        raw = read_yaml(path)
        raw.setdefault("name", Path(path).stem)
    for key, value in sections.items():
        raw[key] = _merge(raw.get(key), value)
    for item in overrides:
        key, value = parse_override(item)
        _set_dotted(raw, key, value)
    return validate_config(raw)


# A config has a few hundred values; aliases that expand it far beyond that are a "billion laughs" bomb, whose
# expansion would exhaust memory while validating (and in any message that shows the value).
MAX_ALIAS_EXPANSION = 10_000


class _Refused(yaml.YAMLError):
    """A YAML document that parses but that a config must not be: duplicate keys, an alias bomb."""


class _ConfigLoader(yaml.SafeLoader):
    """``yaml.safe_load`` (no Python tags) that refuses duplicate keys and bounds alias expansion."""

    def __init__(self, stream):
        super().__init__(stream)
        self._sizes: dict[int, int] = {}
        self._expanded = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            node = self.anchors.get(self.peek_event().anchor)
            if node is not None:
                self._expanded += _expanded_size(node, self._sizes)
                if self._expanded > MAX_ALIAS_EXPANSION:
                    raise _Refused(f"YAML aliases (*name) expand to more than {MAX_ALIAS_EXPANSION} values; "
                                   "a config needs no more than a few hundred")
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            lines: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # keys merged in with "<<: *defaults" may be overridden
                key, line = self.construct_object(key_node, deep=True), key_node.start_mark.line + 1
                try:
                    if key in lines:
                        raise _Refused(f"key {_short_repr(key)} appears twice (lines {lines[key]} and {line})")
                    lines[key] = line
                except TypeError:
                    continue  # an unhashable key: SafeLoader explains that one
        return super().construct_mapping(node, deep)


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """Values ``node`` stands for once every alias below it is copied out (memoized: linear in the document)."""
    if id(node) not in sizes:
        sizes[id(node)] = 1  # a node that contains itself counts once
        if isinstance(node, yaml.SequenceNode):
            sizes[id(node)] += sum(_expanded_size(child, sizes) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            sizes[id(node)] += sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    return sizes[id(node)]


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_ConfigLoader)  # noqa: S506 - a SafeLoader
    except _Refused as err:
        raise ConfigError(f"{path}: {err}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(err, 'problem', err)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level, got {type(data).__name__}")
    return data


def parse_override(item: str) -> tuple[str, Any]:
    if "=" not in item:
        raise ConfigError(f"override '{item}' must look like section.key=value")
    key, text = item.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"override '{item}' has no key")
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        value = text
    return key, value


def validate_config(raw: dict) -> ExperimentConfig:
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_one_line(err)) from None


def config_to_dict(config: ExperimentConfig) -> dict:
    return config.model_dump(mode="json")


def save_config(config: ExperimentConfig, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False), encoding="utf-8")


def _merge(base: Any, update: Any) -> Any:
    if isinstance(base, dict) and isinstance(update, dict):
        merged = dict(base)
        for key, value in update.items():
            merged[key] = _merge(base.get(key), value)
        return merged
    return update


def _set_dotted(raw: dict, dotted: str, value: Any) -> None:
    node = raw
    parts = dotted.split(".")
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"override '{dotted}': '{'.'.join(parts[: i + 1])}' is a value, not a section")
        node = child
    node[parts[-1]] = value


def _one_line(err: ValidationError) -> str:
    first = err.errors()[0]
    loc = [str(part) for part in first["loc"]]
    key = ".".join(loc)
    if first["type"] == "extra_forbidden":
        return f"unknown config key '{key}'{_suggestion(loc)}"
    if first["type"] == "value_error" and "error" in first.get("ctx", {}):
        return str(first["ctx"]["error"])  # a rule across keys: its message names them
    got = first.get("input")
    shown = _short_repr(got) if not isinstance(got, dict) else "a mapping"
    return f"config key '{key}': {first['msg'][0].lower()}{first['msg'][1:]} (got {shown})"


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlevel = 2


def _short_repr(value: Any, limit: int = 80) -> str:
    """A value as the user wrote it, but never pages of it (reprlib stops early even on a huge nested value)."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _suggestion(loc: list[str]) -> str:
    """'did you mean' for an unknown key: the closest keys anywhere in the schema, by their last name; among equally
    close ones, those sharing most of the unknown key's parent path."""
    parent, name = loc[:-1], loc[-1]
    scored = []
    for path in _all_keys(ExperimentConfig):
        similarity = difflib.SequenceMatcher(None, name, path[-1]).ratio()
        if similarity >= 0.6:
            shared = sum(1 for _ in itertools.takewhile(lambda pair: pair[0] == pair[1], zip(parent, path[:-1])))
            scored.append(((round(similarity, 2), shared), ".".join(path)))
    if not scored:
        return f"; valid keys here: {', '.join(_fields_at(parent))}"
    best = max(score for score, _ in scored)
    names = [f"'{path}'" for score, path in scored if score == best][:3]
    return f"; did you mean {' or '.join(names) if len(names) < 3 else ', '.join(names[:2]) + ' or ' + names[2]}?"


def _all_keys(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    keys = []
    for name, field in model.model_fields.items():
        keys.append(prefix + (name,))
        nested = _section_model(field.annotation)
        if nested is not None:
            keys.extend(_all_keys(nested, prefix + (name,)))
    return keys


def _section_model(annotation: Any) -> Optional[type[BaseModel]]:
    candidates = [annotation, *get_args(annotation)] if get_origin(annotation) else [annotation]
    return next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)


def _fields_at(loc: list[str]) -> list[str]:
    """Names of the valid keys in the section at ``loc`` (for 'did you mean' hints)."""
    model: Optional[type[BaseModel]] = ExperimentConfig
    for part in loc:
        field = model.model_fields.get(part)
        model = _section_model(field.annotation) if field is not None else None
        if model is None:
            return []
    return sorted(model.model_fields)
