"""`teacher.serve`: validated before anything starts, and turned into the right server command lines."""

import pytest

from factory.config import ServeConfig, load_pipeline
from factory.errors import ConfigError
from factory.executor.server_process import server_argv
from factory.runner import Overrides

MINIMAL = """
name: t
sources:
  - {name: a, kind: jsonl, path: problems.jsonl}
teacher: {TEACHER}
tokenizer: {name: tok.json}
"""


def load(tmp_path, teacher: str):
    p = tmp_path / "p.yaml"
    p.write_text(MINIMAL.replace("{TEACHER}", teacher))
    return load_pipeline(p)


def error(tmp_path, teacher: str) -> str:
    with pytest.raises(ConfigError) as e:
        load(tmp_path, teacher)
    assert "\n" not in str(e.value)
    return str(e.value)


def test_a_served_teacher_validates_with_its_defaults(tmp_path):
    cfg = load(tmp_path, "{model: deepseek-r1, serve: {model: /models/r1, tensor_parallel: 4}}")
    serve = cfg.teacher.serve
    assert (serve.engine, serve.tensor_parallel, serve.gpus_per_replica, serve.replicas) == ("vllm", 4, 4, None)
    assert serve.max_restarts == 3 and serve.cpus_per_replica == 1


@pytest.mark.parametrize("other", ["base_url: 'http://h:1/v1'", "endpoints: [{url: 'http://h:1/v1'}]",
                                   "simulated: {}"])
def test_serve_excludes_every_other_kind_of_teacher(tmp_path, other):
    message = error(tmp_path, f"{{model: m, serve: {{}}, {other}}}")
    assert "exactly one of" in message and "`serve`" in message


def test_batch_mode_needs_an_api_not_served_replicas(tmp_path):
    assert "use mode: sync with serve" in error(tmp_path, "{model: m, mode: batch, serve: {}}")


def test_a_served_teacher_needs_the_name_it_is_asked_by(tmp_path):
    assert "teacher: set `model` or `model_env`" in error(tmp_path, "{serve: {}}")


@pytest.mark.parametrize("serve, words", [
    ("{tensor_parallel: 0}", ["tensor_parallel 0", "`command`"]),
    ("{tensor_parallel: 4, gpus_per_replica: 2}", ["gpus_per_replica 2", "below tensor_parallel 4"]),
    ("{command: 'my-server --listen 8000', replicas: 2}", ["has no {port}", "--port {port}"]),
    ("{command: 'srv --port {port}', args: [--x]}", ["serve.args", "write them into the command"]),
    ("{command: 'srv --port {port}', gpus_per_replica: 0}", ["gpus_per_replica is 0", "replicas: N"]),
    ("{engine: tgi}", ["engine"]),
    ("{replicas: 0}", ["replicas"]),
    ("{max_restart: 2}", ["max_restart", "unknown key"]),
])
def test_bad_serve_blocks_say_what_to_fix(tmp_path, serve, words):
    message = error(tmp_path, f"{{model: m, serve: {serve}}}")
    assert all(w in message for w in words), message


def test_a_command_without_gpus_is_allowed(tmp_path):
    cfg = load(tmp_path, "{model: m, serve: {command: 'srv --port {port}', tensor_parallel: 0, replicas: 2}}")
    assert (cfg.teacher.serve.gpus_per_replica, cfg.teacher.serve.replicas) == (0, 2)


def test_a_teacher_url_on_the_command_line_replaces_the_served_teacher(tmp_path):
    cfg = load(tmp_path, "{model: m, serve: {}}")
    cfg = Overrides(teacher_url="http://127.0.0.1:9/v1").apply(cfg)
    assert cfg.teacher.serve is None and cfg.teacher.base_url == "http://127.0.0.1:9/v1"


def test_vllm_command_line():
    serve = ServeConfig(model="/models/r1", tensor_parallel=2, args=["--reasoning-parser", "deepseek_r1",
                                                                     "--max-model-len", "32768"])
    argv = server_argv(serve, "deepseek-r1", 23456, python="/env/bin/python")
    assert argv[1:] == ["serve", "/models/r1", "--host", "0.0.0.0", "--port", "23456", "--tensor-parallel-size",
                        "2", "--served-model-name", "deepseek-r1", "--distributed-executor-backend", "mp",
                        "--reasoning-parser", "deepseek_r1", "--max-model-len", "32768"]
    assert argv[0].endswith("vllm")
    one_gpu = server_argv(ServeConfig(), "org/model", 1, python="/env/bin/python")
    assert one_gpu[2] == "org/model" and "--distributed-executor-backend" not in one_gpu  # one GPU: in process


def test_sglang_command_line():
    argv = server_argv(ServeConfig(engine="sglang", tensor_parallel=8), "r1", 30000, python="/env/bin/python")
    assert argv == ["/env/bin/python", "-m", "sglang.launch_server", "--model-path", "r1", "--host", "0.0.0.0",
                    "--port", "30000", "--tp", "8", "--served-model-name", "r1"]


def test_a_command_gets_its_placeholders_and_keeps_other_braces():
    serve = ServeConfig(command="{python} -m srv --port {port} --host {host} --model {model} --name {name} "
                                "--tp {tp} --extra '{\"a\": 1}'", replicas=1, tensor_parallel=0, model="/w")
    argv = server_argv(serve, "served", 8123, python="/py")
    assert argv == ["/py", "-m", "srv", "--port", "8123", "--host", "0.0.0.0", "--model", "/w", "--name", "served",
                    "--tp", "0", "--extra", '{"a": 1}']
