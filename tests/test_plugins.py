"""Plugin discovery: the built-in word2vec plugin, a third-party plugin installed from tests/fixtures, a broken
one, the HFEXT_PLUGINS allow-list, and the rules _register enforces.

Third-party fixtures are pip-installed with ``--target`` into a temporary folder that only the subprocesses
see (``PYTHONPATH``): entry points are read from the ``*.dist-info`` folders on ``sys.path``, so nothing is
added to the virtual environment.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
import transformers
from transformers import AutoConfig, AutoModel, PreTrainedConfig

import hfext
from hfext.plugins import PluginInfo, _register, auto_class_names_for

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------- built-in plugin, in this process


def _built_in_plugins() -> set[str]:
    """The entry points pyproject.toml declares: every built-in family is a plugin like any other."""
    import tomllib

    with open(REPO / "pyproject.toml", "rb") as handle:
        return set(tomllib.load(handle)["project"]["entry-points"]["hfext.plugins"])


BUILT_IN_PLUGINS = _built_in_plugins()


def test_word2vec_plugin_is_discovered():
    from hfext_word2vec import CBOWConfig, CBOWModel, SkipGramConfig, SkipGramModel

    info = hfext.discovered_plugins()["word2vec"]
    assert info.status == "loaded" and info.error is None
    assert info.distribution == "hfext" and info.value == "hfext_word2vec"
    assert info.model_types == ["hfext-skipgram", "hfext-cbow"]
    assert info.auto_classes == {"SkipGramModel": ["AutoModel"], "CBOWModel": ["AutoModel"]}

    config = AutoConfig.for_model("hfext-skipgram", vocab_size=7, vector_size=3)
    assert type(config) is SkipGramConfig and config.vector_size == 3
    assert type(AutoModel.from_config(config)) is SkipGramModel
    assert type(AutoModel.from_config(AutoConfig.for_model("hfext-cbow", vocab_size=7))) is CBOWModel
    assert transformers.CONFIG_MAPPING["hfext-cbow"] is CBOWConfig


def test_registration_is_idempotent():
    from hfext_word2vec import SkipGramConfig, SkipGramModel

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second registration must not even warn
        first = hfext.load_plugins(force=True)
        second = hfext.load_plugins(force=True)
    assert first["word2vec"].status == second["word2vec"].status == "loaded"
    assert second["word2vec"].model_types == ["hfext-skipgram", "hfext-cbow"]  # not appended twice
    assert transformers.CONFIG_MAPPING["hfext-skipgram"] is SkipGramConfig
    assert type(AutoModel.from_config(SkipGramConfig(vocab_size=5))) is SkipGramModel
    assert hfext.load_plugins() == second  # without force: the cached result


def test_auto_class_names_follow_transformers_naming():
    assert auto_class_names_for(type("FooModel", (), {})) == ["AutoModel"]
    assert auto_class_names_for(type("FooForMaskedLM", (), {})) == ["AutoModelForMaskedLM"]
    assert auto_class_names_for(type("FooForCausalLM", (), {})) == ["AutoModelForCausalLM"]
    assert auto_class_names_for(type("FooForNoSuchTask", (), {})) == []  # no such Auto class: not registered
    assert auto_class_names_for(type("FooHelper", (), {})) == []


# ---------------------------------------------------------------------- what _register rejects


class _BertImpostorConfig(PreTrainedConfig):
    model_type = "bert"  # transformers' own type: must not be hijacked


class _NoTypeConfig(PreTrainedConfig):
    model_type = ""


def test_model_type_colliding_with_transformers_is_rejected():
    info = PluginInfo("impostor", "impostor_pkg", None)
    with pytest.raises(ValueError, match=r"model_type 'bert' of _BertImpostorConfig is already taken by BertConfig.*namespace it"
                       r".* \(see docs/troubleshooting.md#plugin-failed\)$"):
        _register(SimpleNamespace(configs=[_BertImpostorConfig], models=[]), info)
    assert transformers.CONFIG_MAPPING["bert"] is transformers.BertConfig  # untouched
    assert info.model_types == []


def test_plugin_protocol_errors_name_the_problem():
    info = PluginInfo("bad", "bad_pkg", None)
    with pytest.raises(TypeError, match="has no `configs` list"):
        _register(SimpleNamespace(models=[]), info)
    with pytest.raises(TypeError, match="_NoTypeConfig has no model_type"):
        _register(SimpleNamespace(configs=[_NoTypeConfig]), info)


# ---------------------------------------------------------------------- third-party and broken plugins, in subprocesses


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory):
    """Both fixture distributions pip-installed (no deps, offline) into a temporary --target folder."""
    work = tmp_path_factory.mktemp("plugins")
    sources = []
    for name in ("thirdparty_plugin", "broken_plugin"):
        # build from a copy: setuptools writes build/ and *.egg-info next to the sources
        shutil.copytree(FIXTURES / name, work / name)
        sources.append(str(work / name))
    target = work / "site"
    # --no-build-isolation --no-index: offline, built with the setuptools of this environment
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--target", str(target), *sources],
        capture_output=True, check=False, text=True,
    )
    assert result.returncode == 0, f"pip could not install the plugin fixtures (is setuptools installed?):\n{result.stderr}"
    assert sorted(p.name for p in target.glob("*.dist-info")) == [
        "hfext_brokenplugin-0.0.1.dist-info", "hfext_toyplugin-0.0.1.dist-info"]
    return target


# Each subprocess pays for importing torch and transformers, so one script checks several things and
# prints a JSON report; `cli(...)` runs the `hfext` command in that process and captures what it prints.
_PRELUDE = """
import contextlib, io, json

def cli(*argv):
    from hfext.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exit:
            code = exit.code
    return {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}

report = {}
"""


def _run(script, plugin_dir=None, **env_extra):
    """Run `script` in a fresh interpreter (the fixtures importable only if `plugin_dir`); returns (report, stderr)."""
    env = {k: v for k, v in os.environ.items() if k not in {"HFEXT_PLUGINS", "PYTHONPATH"}}
    if plugin_dir is not None:
        env["PYTHONPATH"] = str(plugin_dir)
    env.update(env_extra)
    code = _PRELUDE + textwrap.dedent(script) + "\nprint(json.dumps(report))\n"
    result = subprocess.run([sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


@pytest.fixture(scope="module")
def with_plugins(plugin_path, tmp_path_factory):
    """One interpreter with the toy and the broken plugin installed beside hfext."""
    toy_dir = tmp_path_factory.mktemp("toy_model")
    return _run(
        f"""
        import torch
        import hfext
        from transformers import AutoConfig, AutoModel

        # the third-party model family, through the Auto classes only
        config = AutoConfig.for_model("toyplugin-toy", hidden_size=3)
        model = AutoModel.from_config(config)
        model.save_pretrained({str(toy_dir)!r})
        reloaded = AutoModel.from_pretrained({str(toy_dir)!r})
        x = torch.randn(2, 3)
        report["toy"] = {{
            "config": type(config).__module__ + "." + type(config).__name__,
            "model": type(model).__module__ + "." + type(model).__name__,
            "reloaded": type(reloaded).__name__,
            "hidden_size": reloaded.config.hidden_size,
            "same_output": bool(torch.equal(model(x), reloaded(x))),
            "same_weights": all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), reloaded.state_dict().values())),
        }}
        try:
            AutoConfig.for_model("toyplugin-toy", hidden_size=0)
        except ValueError as error:
            report["toy_validation"] = str(error)

        # the built-in family still works beside the broken plugin
        w2v = AutoModel.from_config(AutoConfig.for_model("hfext-skipgram", vocab_size=11, vector_size=4))
        report["word2vec"] = [type(w2v).__name__, list(w2v.get_input_embeddings().weight.shape)]
        report["statuses"] = sorted([name, info.status] for name, info in hfext.discovered_plugins().items())

        report["plugins_json"] = cli("plugins", "--json")
        report["plugins_table"] = cli("plugins")
        report["neighbors_on_toy"] = cli("neighbors", {str(toy_dir)!r}, "king")
        report["toy_dir"] = {str(toy_dir)!r}
        """,
        plugin_path,
    )


def test_plugin_package_is_not_importable_without_the_target_dir(with_plugins):
    """The fixtures never leak into the venv, and without them a toy model directory is explained."""
    report, _ = with_plugins
    alone, _ = _run(
        f"""
        try:
            import hfext_toyplugin
            report["importable"] = True
        except ImportError:
            report["importable"] = False
        report["neighbors"] = cli("neighbors", {report["toy_dir"]!r}, "king")
        """
    )
    assert alone["importable"] is False
    assert alone["neighbors"]["code"] == 2
    assert "type 'toyplugin-toy', which no installed hfext plugin provides" in alone["neighbors"]["stderr"]


def test_third_party_plugin_loads_through_its_entry_point(with_plugins):
    report, _stderr = with_plugins
    assert report["toy"] == {"config": "hfext_toyplugin.modeling_toy.ToyConfig",
                             "model": "hfext_toyplugin.modeling_toy.ToyModel", "reloaded": "ToyModel",
                             "hidden_size": 3, "same_output": True, "same_weights": True}
    config = json.loads((Path(report["toy_dir"]) / "config.json").read_text())
    assert config["model_type"] == "toyplugin-toy" and config["hidden_size"] == 3
    assert report["toy_validation"] == "hidden_size must be >= 1, got 0"  # the plugin's config validates


def test_broken_plugin_warns_and_stops_nothing(with_plugins):
    report, stderr = with_plugins
    # one RuntimeWarning naming the plugin, its entry point and the cause
    assert stderr.count("RuntimeWarning: hfext plugin 'broken' (hfext_brokenplugin) failed to load") == 1
    assert "ImportError: hfext_brokenplugin needs the package 'toy_missing_dependency'" in stderr
    assert "Run `hfext plugins` for details (see docs/troubleshooting.md#plugin-failed)." in stderr
    assert report["word2vec"] == ["SkipGramModel", [11, 4]]
    statuses = dict(report["statuses"])
    assert statuses.pop("broken") == "failed" and statuses.pop("toyplugin") == "loaded"
    assert set(statuses) == BUILT_IN_PLUGINS and set(statuses.values()) == {"loaded"}  # every built-in family


def test_plugins_command_lists_loaded_and_failed_plugins(with_plugins):
    report, _ = with_plugins
    result = report["plugins_json"]
    assert result["code"] == 0, result["stderr"]
    plugins = {p["name"]: p for p in json.loads(result["stdout"])}
    assert set(plugins) == {"broken", "toyplugin"} | BUILT_IN_PLUGINS
    toy = plugins["toyplugin"]
    assert (toy["status"], toy["distribution"], toy["value"]) == ("loaded", "hfext-toyplugin", "hfext_toyplugin")
    assert toy["model_types"] == ["toyplugin-toy"] and toy["auto_classes"] == {"ToyModel": ["AutoModel"]}
    broken = plugins["broken"]
    assert (broken["status"], broken["distribution"]) == ("failed", "hfext-brokenplugin")
    assert broken["error"].startswith("ImportError: ") and "toy_missing_dependency" in broken["error"]
    assert broken["model_types"] == []
    assert plugins["word2vec"]["status"] == "loaded"
    assert plugins["word2vec"]["model_types"] == ["hfext-skipgram", "hfext-cbow"]

    table = report["plugins_table"]
    assert table["code"] == 0, table["stderr"]
    lines = table["stdout"].splitlines()
    assert lines[0].split()[:3] == ["PLUGIN", "DISTRIBUTION", "STATUS"]
    table_rows = lines[2 : lines.index("")]  # the table, then a blank line, then the errors
    rows = {line.split()[0]: line.split() for line in table_rows}
    assert set(rows) == {"broken", "toyplugin"} | BUILT_IN_PLUGINS
    assert rows["toyplugin"][:4] == ["toyplugin", "hfext-toyplugin", "loaded", "toyplugin-toy"]
    assert rows["broken"][:3] == ["broken", "hfext-brokenplugin", "failed"]
    assert "ToyModel -> AutoModel" in table["stdout"]
    assert any(line.startswith("broken (hfext_brokenplugin) failed: ImportError") for line in lines)


def test_vector_commands_refuse_a_model_without_word_vectors(with_plugins):
    """A model directory of another (registered) family gets a clear message, not a traceback."""
    report, _ = with_plugins
    result = report["neighbors_on_toy"]
    assert result["code"] == 2 and result["stdout"] == ""
    assert "holds a 'toyplugin-toy' model (ToyConfig), not a word-vector model" in result["stderr"]
    assert "hfext-skipgram" in result["stderr"]


def test_allow_list_loads_only_the_named_plugins(plugin_path):
    report, stderr = _run(
        """
        import hfext, transformers
        report["plugins"] = sorted(hfext.discovered_plugins())
        report["toy_registered"] = "toyplugin-toy" in transformers.CONFIG_MAPPING
        report["listed"] = cli("plugins", "--json")
        """,
        plugin_path, HFEXT_PLUGINS=" word2vec ",
    )
    assert report["plugins"] == ["word2vec"] and report["toy_registered"] is False
    assert "broken" not in stderr  # never imported, so no warning
    status = {p["name"]: (p["status"], p["error"]) for p in json.loads(report["listed"]["stdout"])}
    skipped = ("skipped", "not in the HFEXT_PLUGINS allow-list")
    assert status == {name: skipped for name in {"broken", "toyplugin"} | BUILT_IN_PLUGINS} | {"word2vec": ("loaded", None)}
