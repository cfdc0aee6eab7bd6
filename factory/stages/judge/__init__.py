"""Judge: every journaled reply gets a verdict (trace filters, the verifier, token counts), once per judging rules.

`stage.judge` is the driver side (what is missing, verdict parts on disk); `batch.judge_batch` is the unit
of work an executor runs; `tokens` loads the student's tokenizer the counts are measured in.
"""
