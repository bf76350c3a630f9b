"""Entry-point plugin discovery: the one place that calls ``Auto*.register``.

A model family is a plugin: an importable object (usually a module) declared in a distribution's
``pyproject.toml`` under the entry-point group ``hfext.plugins``::

    [project.entry-points."hfext.plugins"]
    my_family = "my_package"

The object must expose

- ``configs``: ``PreTrainedConfig`` subclasses (each with a unique, namespaced ``model_type``);
- ``models``: ``PreTrainedModel`` subclasses. Each is registered with the Auto class its name implies
  (``FooModel`` -> ``AutoModel``, ``FooForMaskedLM`` -> ``AutoModelForMaskedLM``, ...) unless
  ``auto_classes`` (optional ``{model_class: ["AutoModel", ...]}``) says otherwise;
- ``tokenizers`` (optional): ``{config_class: fast_tokenizer_class}`` for ``AutoTokenizer``.

hfext never needs to know a plugin's name: ``import hfext`` loads every entry point of the group.
A plugin that fails to load is reported with a warning naming it and the cause; the others still load.
Set ``HFEXT_PLUGINS=name1,name2`` to load only some plugins.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import traceback
import warnings
from dataclasses import dataclass, field
from importlib.metadata import entry_points

import transformers

from .errors import see

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "hfext.plugins"
_ALLOW_LIST_ENV = "HFEXT_PLUGINS"


@dataclass
class PluginInfo:
    """What ``hfext plugins`` reports about one entry point."""

    name: str
    value: str
    distribution: str | None
    status: str = "not loaded"  # "loaded" or "failed"
    error: str | None = None
    model_types: list[str] = field(default_factory=list)
    auto_classes: dict[str, list[str]] = field(default_factory=dict)  # model class -> Auto class names


_lock = threading.Lock()
_plugins: dict[str, PluginInfo] = {}
_loaded = False


def auto_class_names_for(model_class: type) -> list[str]:
    """The Auto classes a model class fits, from its name as transformers names them."""
    name = model_class.__name__
    match = re.search(r"For([A-Za-z0-9]+)$", name)
    if match:
        candidate = f"AutoModelFor{match.group(1)}"
        return [candidate] if hasattr(transformers, candidate) else []
    return ["AutoModel"] if name.endswith("Model") else []


def plugin_auto_classes(plugin) -> dict[type, list[str]]:
    """Each of a plugin's ``models`` with the Auto classes it registers with: its ``auto_classes`` entry, or
    the ones its name implies (:func:`auto_class_names_for`)."""
    explicit = dict(getattr(plugin, "auto_classes", {}) or {})
    return {model: list(explicit.get(model) or auto_class_names_for(model)) for model in getattr(plugin, "models", [])}


def _register(plugin, info: PluginInfo) -> None:
    configs = list(getattr(plugin, "configs", []))
    if not configs:
        raise TypeError(f"plugin object {plugin!r} has no `configs` list; see hfext.plugins for the protocol"
                        + see("plugin-failed"))
    model_auto_classes = plugin_auto_classes(plugin)
    # Check every config before registering any, so a bad plugin is never left half-registered.
    for config_class in configs:
        model_type = getattr(config_class, "model_type", "")
        if not model_type:
            raise TypeError(f"{config_class.__name__} has no model_type; set one on the class, e.g. model_type = 'yourpkg-name'"
                            + see("plugin-failed"))
        if model_type in transformers.CONFIG_MAPPING and transformers.CONFIG_MAPPING[model_type] is not config_class:
            raise ValueError(
                f"model_type {model_type!r} of {config_class.__name__} is already taken by "
                f"{transformers.CONFIG_MAPPING[model_type].__name__}; namespace it, e.g. 'yourpkg-{model_type}'"
                + see("plugin-failed")
            )
    for model_class, names in model_auto_classes.items():
        if not names:
            logger.warning("plugin model %s fits no Auto class by its name; list it in `auto_classes`", model_class)
    for config_class in configs:
        # exist_ok makes registration idempotent (two imports, several processes, reloads).
        transformers.AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
        info.model_types.append(config_class.model_type)
    for model_class, names in model_auto_classes.items():
        for auto_name in names:
            getattr(transformers, auto_name).register(model_class.config_class, model_class, exist_ok=True)
        info.auto_classes[model_class.__name__] = list(names)
    for config_class, tokenizer_class in dict(getattr(plugin, "tokenizers", {}) or {}).items():
        transformers.AutoTokenizer.register(config_class, fast_tokenizer_class=tokenizer_class, exist_ok=True)


def load_plugins(force: bool = False) -> dict[str, PluginInfo]:
    """Discover and register every ``hfext.plugins`` entry point (once per process unless ``force``)."""
    global _loaded
    with _lock:
        if _loaded and not force:
            return dict(_plugins)
        _plugins.clear()
        allowed = os.environ.get(_ALLOW_LIST_ENV)
        allow = {name.strip() for name in allowed.split(",") if name.strip()} if allowed else None
        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            if allow is not None and entry_point.name not in allow:
                continue
            dist = getattr(entry_point, "dist", None)
            info = PluginInfo(entry_point.name, entry_point.value, dist.metadata["Name"] if dist else None)
            try:
                _register(entry_point.load(), info)
                info.status = "loaded"
            except Exception as error:  # noqa: BLE001  (one broken plugin must never stop the others)
                info.status = "failed"
                info.error = f"{type(error).__name__}: {error}"
                pointer = "" if "troubleshooting.md#" in info.error else see("plugin-failed")
                warnings.warn(
                    f"hfext plugin {entry_point.name!r} ({entry_point.value}) failed to load and was skipped: "
                    f"{info.error}. Run `hfext plugins` for details{pointer}.",
                    RuntimeWarning,
                    stacklevel=2,
                )
                logger.debug("plugin %s failed:\n%s", entry_point.name, traceback.format_exc())
            _plugins[entry_point.name] = info
        _loaded = True
        return dict(_plugins)


def discovered_plugins() -> dict[str, PluginInfo]:
    """Every plugin seen so far, loading them first if needed."""
    return load_plugins()
