"""Training on the factory's data: `factory train` (SFT or GRPO through context stages, on TRL) and
`factory export` (a run's problems as verl's or TRL's RL Parquet).

- `config`: the training config; `data` and `prompts`: rows (SFT) and problems (GRPO) with their lineage;
- `model`: the student's tokenizer and model (an HF id, a directory, or built from a config);
- `sft`, `grpo`: one stage of each on TRL's trainers; `rewards`: the verifier as GRPO's reward;
- `run`: the stages in order, resumable, into a training directory; `card`: its model card;
- `export`, `verl_reward`: the RL export, and the reward function verl calls.
"""
