"""Load an experiment config from YAML plus ``section.key=value`` overrides, failing early and in one line."""

from __future__ import annotations

import difflib
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


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        # safe_load: configs never construct Python objects (no !!python tags).
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
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
        fields = _fields_at(loc[:-1])
        close = difflib.get_close_matches(loc[-1], fields, n=1, cutoff=0.5)
        hint = f"; did you mean '{'.'.join(loc[:-1] + close)}'?" if close else f"; valid keys here: {', '.join(fields)}"
        return f"unknown config key '{key}'{hint}"
    if first["type"] == "value_error" and "error" in first.get("ctx", {}):
        return str(first["ctx"]["error"])  # a rule across keys: its message names them
    got = first.get("input")
    shown = repr(got) if not isinstance(got, dict) else "a mapping"
    return f"config key '{key}': {first['msg'][0].lower()}{first['msg'][1:]} (got {shown})"


def _fields_at(loc: list[str]) -> list[str]:
    """Names of the valid keys in the section at ``loc`` (for 'did you mean' hints)."""
    model: type[BaseModel] = ExperimentConfig
    for part in loc:
        field = model.model_fields.get(part)
        if field is None:
            return []
        annotation = field.annotation
        candidates = [annotation, *get_args(annotation)] if get_origin(annotation) else [annotation]
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            return []
        model = nested[0]
    return sorted(model.model_fields)
