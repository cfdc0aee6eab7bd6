from factory.config import TeacherConfig
from factory.stages.generate.identity import prompt_template_hash, render_messages, sample_id, sampling_params


def teacher(**kw):
    return TeacherConfig(base_url="http://x/v1", model="m", **kw)


def test_token_budget_does_not_change_identity():
    a = sampling_params(teacher(sampling={"max_tokens": 100}))
    b = sampling_params(teacher(sampling={"max_tokens": 200}))
    assert sample_id("p", 0, "m", "h", a) == sample_id("p", 0, "m", "h", b)


def test_everything_else_does():
    base = sampling_params(teacher())
    hotter = sampling_params(teacher(sampling={"temperature": 1.0}))
    ids = {sample_id("p", 0, "m", "h", base), sample_id("p", 1, "m", "h", base), sample_id("q", 0, "m", "h", base),
           sample_id("p", 0, "m2", "h", base), sample_id("p", 0, "m", "h2", base), sample_id("p", 0, "m", "h", hotter)}
    assert len(ids) == 6


def test_template_hash_covers_system_prompt():
    assert prompt_template_hash(teacher()) != prompt_template_hash(teacher(system_prompt="be brief"))


def test_messages_replace_only_the_placeholder():
    msgs = render_messages(teacher(system_prompt="sys", prompt_template="Q: {problem} \\boxed{}"), "f(x)={x}")
    assert msgs == [{"role": "system", "content": "sys"}, {"role": "user", "content": "Q: f(x)={x} \\boxed{}"}]
