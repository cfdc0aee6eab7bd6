"""The offline demo's data builder: synthetic problems (`problems`) and the files, tokenizer and CLI that
write `datasets/demo/` from them (`build`; `python -m factory.demo --out datasets/demo`).
"""
