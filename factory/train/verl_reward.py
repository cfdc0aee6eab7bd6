"""A verl custom reward function: the factory's verifier on a verl rollout.

    custom_reward_function.path=factory/train/verl_reward.py custom_reward_function.name=compute_score

verl calls it once per response with the data source, the decoded response and the row's
`reward_model.ground_truth`. The response is untrusted model text: it only reaches `factory.verify`.
"""

from factory.train.rewards import AccuracyReward

_REWARD = AccuracyReward(policy="strict")


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs) -> float:
    """1.0 for a closed, boxed and verified answer, else 0.0 (the strict format policy)."""
    return _REWARD.score(str(ground_truth), solution_str or "")
