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
import torch
import transformers
from transformers import AutoConfig, AutoModel, PreTrainedConfig

import hfext
from hfext.plugins import PluginInfo, _register, auto_class_names_for

FIXTURES = Path(__file__).parent / "fixtures"


# ---------------------------------------------------------------------- built-in plugin, in this process


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
    with pytest.raises(ValueError, match=r"model_type 'bert' of _BertImpostorConfig is already taken by BertConfig.*namespace it"):
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
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--target", str(target), *sources],
        check=True, capture_output=True, text=True,
    )
    assert sorted(p.name for p in target.glob("*.dist-info")) == [
        "hfext_brokenplugin-0.0.1.dist-info", "hfext_toyplugin-0.0.1.dist-info"]
    return target


def _run(code_or_args, plugin_dir, **env_extra):
    env = {k: v for k, v in os.environ.items() if k not in {"HFEXT_PLUGINS", "PYTHONPATH"}}
    env.update(PYTHONPATH=str(plugin_dir), **env_extra)
    args = ["-c", textwrap.dedent(code_or_args)] if isinstance(code_or_args, str) else code_or_args
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=120)


def test_plugin_package_is_not_importable_without_the_target_dir():
    # guards the premise of the tests below: the fixtures never leak into the venv
    result = subprocess.run([sys.executable, "-c", "import hfext_toyplugin"], capture_output=True, text=True,
                            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert result.returncode != 0 and "No module named 'hfext_toyplugin'" in result.stderr


def test_third_party_plugin_loads_through_its_entry_point(plugin_path, tmp_path):
    result = _run(
        f"""
        import json, warnings
        import torch
        import hfext
        from transformers import AutoConfig, AutoModel

        config = AutoConfig.for_model("toyplugin-toy", hidden_size=3)
        model = AutoModel.from_config(config)
        x = torch.randn(2, 3)
        model.save_pretrained({str(tmp_path / "toy")!r})
        reloaded = AutoModel.from_pretrained({str(tmp_path / "toy")!r})
        print(json.dumps({{
            "config": type(config).__module__ + "." + type(config).__name__,
            "model": type(model).__module__ + "." + type(model).__name__,
            "reloaded": type(reloaded).__name__,
            "hidden_size": reloaded.config.hidden_size,
            "same_output": bool(torch.equal(model(x), reloaded(x))),
            "same_weights": all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), reloaded.state_dict().values())),
        }}))
        """,
        plugin_path,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out == {"config": "hfext_toyplugin.modeling_toy.ToyConfig", "model": "hfext_toyplugin.modeling_toy.ToyModel",
                   "reloaded": "ToyModel", "hidden_size": 3, "same_output": True, "same_weights": True}
    assert json.loads((tmp_path / "toy" / "config.json").read_text())["model_type"] == "toyplugin-toy"
    # the broken plugin installed beside it warned, naming itself and the cause, and stopped nothing
    assert "hfext plugin 'broken' (hfext_brokenplugin) failed to load" in result.stderr
    assert "toy_missing_dependency" in result.stderr


def test_plugins_command_lists_loaded_and_failed_plugins(plugin_path):
    result = _run(["-m", "hfext.cli", "plugins", "--json"], plugin_path)
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert set(plugins) == {"broken", "toyplugin", "word2vec"}
    toy = plugins["toyplugin"]
    assert (toy["status"], toy["distribution"], toy["value"]) == ("loaded", "hfext-toyplugin", "hfext_toyplugin")
    assert toy["model_types"] == ["toyplugin-toy"] and toy["auto_classes"] == {"ToyModel": ["AutoModel"]}
    broken = plugins["broken"]
    assert (broken["status"], broken["distribution"]) == ("failed", "hfext-brokenplugin")
    assert broken["error"].startswith("ImportError: ") and "toy_missing_dependency" in broken["error"]
    assert broken["model_types"] == []
    assert plugins["word2vec"]["status"] == "loaded"
    assert "'broken'" in result.stderr and "RuntimeWarning" in result.stderr

    table = _run(["-m", "hfext.cli", "plugins"], plugin_path)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["PLUGIN", "DISTRIBUTION", "STATUS"]
    table_rows = lines[2 : lines.index("")]  # the table, then a blank line, then the errors
    rows = {line.split()[0]: line.split() for line in table_rows}
    assert set(rows) == {"broken", "toyplugin", "word2vec"}
    assert rows["toyplugin"][:4] == ["toyplugin", "hfext-toyplugin", "loaded", "toyplugin-toy"]
    assert rows["broken"][:3] == ["broken", "hfext-brokenplugin", "failed"]
    assert "ToyModel -> AutoModel" in table.stdout
    assert any(line.startswith("broken (hfext_brokenplugin) failed: ImportError") for line in lines)


def test_word2vec_still_loads_beside_a_broken_plugin(plugin_path):
    result = _run(
        """
        import hfext
        from transformers import AutoConfig, AutoModel
        model = AutoModel.from_config(AutoConfig.for_model("hfext-skipgram", vocab_size=11, vector_size=4))
        print(type(model).__name__, tuple(model.get_input_embeddings().weight.shape))
        print(sorted((n, p.status) for n, p in hfext.discovered_plugins().items()))
        """,
        plugin_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "SkipGramModel (11, 4)",
        "[('broken', 'failed'), ('toyplugin', 'loaded'), ('word2vec', 'loaded')]",
    ]


def test_allow_list_loads_only_the_named_plugins(plugin_path):
    result = _run(
        """
        import json, hfext, transformers
        print(json.dumps({"plugins": sorted(hfext.discovered_plugins()),
                          "toy_registered": "toyplugin-toy" in transformers.CONFIG_MAPPING}))
        """,
        plugin_path, HFEXT_PLUGINS="word2vec",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"plugins": ["word2vec"], "toy_registered": False}
    assert "broken" not in result.stderr  # never imported, so no warning

    listed = _run(["-m", "hfext.cli", "plugins", "--json"], plugin_path, HFEXT_PLUGINS=" toyplugin , word2vec")
    assert listed.returncode == 0, listed.stderr
    status = {p["name"]: p["status"] for p in json.loads(listed.stdout)}
    assert status == {"broken": "skipped", "toyplugin": "loaded", "word2vec": "loaded"}


def test_vector_commands_refuse_a_model_without_word_vectors(plugin_path, tmp_path):
    """A model directory of another (registered) family gets a clear message, not a traceback."""
    save = _run(
        f"""
        import hfext
        from transformers import AutoConfig, AutoModel
        AutoModel.from_config(AutoConfig.for_model("toyplugin-toy")).save_pretrained({str(tmp_path / "toy")!r})
        """,
        plugin_path,
    )
    assert save.returncode == 0, save.stderr
    result = _run(["-m", "hfext.cli", "neighbors", str(tmp_path / "toy"), "king"], plugin_path)
    assert result.returncode == 2
    assert "holds a 'toyplugin-toy' model (ToyConfig), not a word-vector model" in result.stderr
    assert "hfext-skipgram" in result.stderr and "Traceback" not in result.stderr
    # and without the plugin installed, the message says which plugin is missing
    alone = subprocess.run([sys.executable, "-m", "hfext.cli", "neighbors", str(tmp_path / "toy"), "king"],
                           capture_output=True, text=True, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert alone.returncode == 2
    assert "type 'toyplugin-toy', which no installed hfext plugin provides" in alone.stderr


def test_toy_config_validates_in_its_constructor(plugin_path):
    result = _run(
        """
        import hfext
        from transformers import AutoConfig
        try:
            AutoConfig.for_model("toyplugin-toy", hidden_size=0)
        except ValueError as error:
            print(error)
        """,
        plugin_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hidden_size must be >= 1, got 0"
