"""Evaluation: `factory eval` asks a model k samples of every benchmark problem through the teacher client
and journal, judges them with the verifier, and reports pass@1 and pass@k beside earlier models'.

- `config`: the eval config; `run`: each benchmark as a run directory; `results`: scores and the table;
- `serve`: a local checkpoint served over the chat-completions protocol (`--model-dir`).
"""
