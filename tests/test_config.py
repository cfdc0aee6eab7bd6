from pathlib import Path

import pytest

from factory.config import load_pipeline
from factory.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]

MINIMAL = """
name: t
sources:
  - {name: a, kind: jsonl, path: problems.jsonl}
teacher: {base_url: "http://127.0.0.1:1/v1", model: m}
tokenizer: {name: tok.json}
"""


def write(tmp_path, text):
    p = tmp_path / "p.yaml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("name", ["demo.yaml", "deepscaler.yaml"])
def test_shipped_pipelines_validate(name):
    cfg = load_pipeline(ROOT / "pipelines" / name)
    assert cfg.name == name.removesuffix(".yaml")


def test_relative_paths_resolve_against_the_pipeline_file(tmp_path):
    cfg = load_pipeline(write(tmp_path, MINIMAL))
    assert cfg.sources[0].path == str(tmp_path / "problems.jsonl")


def test_unknown_key_is_one_line_naming_it(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_pipeline(write(tmp_path, MINIMAL + "bogus: 1\n"))
    assert "bogus" in str(e.value) and "unknown key" in str(e.value) and "\n" not in str(e.value)


def test_nested_unknown_key(tmp_path):
    text = MINIMAL.replace("model: m}", "model: m, temprature: 0.5}")
    with pytest.raises(ConfigError, match=r"teacher\.temprature: unknown key"):
        load_pipeline(write(tmp_path, text))


def test_malformed_yaml_names_the_line(tmp_path):
    with pytest.raises(ConfigError, match="line .*not valid YAML"):
        load_pipeline(write(tmp_path, "name: [unclosed\nsources: 1\n"))


def test_missing_file():
    with pytest.raises(ConfigError, match="not found"):
        load_pipeline("does/not/exist.yaml")


def test_bad_values_are_rejected(tmp_path):
    with pytest.raises(ConfigError, match="teacher.n"):
        load_pipeline(write(tmp_path, MINIMAL.replace("model: m}", "model: m, n: 0}")))
    with pytest.raises(ConfigError, match="needs `dataset"):
        load_pipeline(write(tmp_path, MINIMAL.replace("kind: jsonl, path: problems.jsonl", "kind: hf")))


def test_template_must_mention_problem(tmp_path):
    with pytest.raises(ConfigError, match="prompt_template"):
        load_pipeline(write(tmp_path, MINIMAL.replace("model: m}", "model: m, prompt_template: hi}")))


def test_stored_config_never_keeps_url_secrets(tmp_path):
    text = MINIMAL.replace("http://127.0.0.1:1/v1", "http://user:pw@127.0.0.1:1/v1?key=s3cret")
    stored = load_pipeline(write(tmp_path, text)).fingerprint()
    assert "s3cret" not in stored and "pw@" not in stored and "http://127.0.0.1:1/v1" in stored


def test_hf_dataset_paths_resolve_when_local_and_hub_ids_stay(tmp_path):
    (tmp_path / "data" / "my_hf_dataset").mkdir(parents=True)
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    sources = """
sources:
  - {name: local, kind: hf, dataset: ../data/my_hf_dataset}
  - {name: hub, kind: hf, dataset: agentica-org/DeepScaleR-Preview-Dataset}
  - {name: bare, kind: hf, dataset: gsm8k}
decontaminate:
  - {name: ev, kind: hf, dataset: ./evals/not-made-yet, split: test}
"""
    cfg = load_pipeline(write(pipelines, MINIMAL.replace("sources:\n  - {name: a, kind: jsonl, path: problems.jsonl}",
                                                         sources.strip())))
    assert [s.dataset for s in cfg.sources + cfg.decontaminate] == [
        str(tmp_path / "data" / "my_hf_dataset"), "agentica-org/DeepScaleR-Preview-Dataset", "gsm8k",
        str(pipelines / "evals" / "not-made-yet")]


@pytest.mark.parametrize("path", ["prompt[-1].content", "reward_model.ground_truth", "extra_info.index",
                                  "final answer", "turns[0][1].text"])
def test_field_paths_are_accepted(tmp_path, path):
    cfg = load_pipeline(write(tmp_path, MINIMAL.replace("path: problems.jsonl}",
                                                        f"path: problems.jsonl, fields: {{answer: '{path}'}}}}")))
    assert cfg.sources[0].fields.answer == path


@pytest.mark.parametrize("path", ["prompt[-1.content", "reward_model..ground_truth", "prompt[x]", ".answer"])
def test_malformed_field_paths_are_one_line(tmp_path, path):
    text = MINIMAL.replace("path: problems.jsonl}", f"path: problems.jsonl, fields: {{solution: '{path}'}}}}")
    with pytest.raises(ConfigError) as e:
        load_pipeline(write(tmp_path, text))
    assert f"sources.0.fields.solution: {path!r} is not a column or field path" in str(e.value)
    assert "\n" not in str(e.value)


def test_csv_sources_streaming_and_license_keys(tmp_path):
    text = MINIMAL.replace("kind: jsonl, path: problems.jsonl}",
                           "kind: csv, path: problems.csv, streaming: true, license: cc-by-4.0}")
    src = load_pipeline(write(tmp_path, text)).sources[0]
    assert (src.kind, src.path, src.streaming, src.license) == ("csv", str(tmp_path / "problems.csv"), True,
                                                                "cc-by-4.0")

def test_until_must_be_reachable_and_start_from_n(tmp_path):
    ok = load_pipeline(write(tmp_path, MINIMAL.replace("model: m}", "model: m, n: 2, until: {accepted: 2, max_n: 8}}")))
    assert (ok.teacher.until.accepted, ok.teacher.until.max_n) == (2, 8)
    with pytest.raises(ConfigError, match=r"teacher: .*max_n 2 is below the first round's n 4; set max_n"):
        load_pipeline(write(tmp_path, MINIMAL.replace("model: m}", "model: m, until: {accepted: 1, max_n: 2}}")))
    with pytest.raises(ConfigError, match=r"until.accepted 5 can never be reached with max_n 4"):
        load_pipeline(write(tmp_path, MINIMAL.replace("model: m}", "model: m, until: {accepted: 5, max_n: 4}}")))
    with pytest.raises(ConfigError, match=r"teacher.until.accepted"):
        load_pipeline(write(tmp_path, MINIMAL.replace("model: m}", "model: m, until: {accepted: 0, max_n: 4}}")))
    with pytest.raises(ConfigError, match=r"teacher.until.rounds: unknown key"):
        load_pipeline(write(tmp_path, MINIMAL.replace("model: m}", "model: m, until: {accepted: 1, max_n: 4, "
                                                                    "rounds: 3}}")))


def test_batch_mode_takes_one_endpoint_and_the_api_limits(tmp_path):
    ok = load_pipeline(write(tmp_path, MINIMAL.replace("model: m}", "model: m, mode: batch, batch: {max_requests: 3, "
                                                                    "poll_s: 0.1}}")))
    assert (ok.teacher.mode, ok.teacher.batch.max_requests, ok.teacher.batch.max_bytes) == ("batch", 3, 200 * 10**6)
    pool = MINIMAL.replace('base_url: "http://127.0.0.1:1/v1", model: m}',
                           'endpoints: [{url: "http://a:1/v1"}], model: m, mode: batch}')
    with pytest.raises(ConfigError, match=r"teacher: .*mode: batch sends each batch to one API.*set base_url"):
        load_pipeline(write(tmp_path, pool))
    with pytest.raises(ConfigError, match=r"teacher.batch.max_requests: .*less than or equal to 50000"):
        load_pipeline(write(tmp_path, MINIMAL.replace("model: m}", "model: m, batch: {max_requests: 60000}}")))
    with pytest.raises(ConfigError, match=r"teacher.mode: "):
        load_pipeline(write(tmp_path, MINIMAL.replace("model: m}", "model: m, mode: offline}")))
