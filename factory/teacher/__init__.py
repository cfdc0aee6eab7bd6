"""The teacher client: ask an OpenAI-compatible endpoint for samples, with retries in exactly one layer.

- `client`: one sample, asked through the `openai` SDK (its own retries off) with tenacity on top;
- `failures`: how a failed attempt is described and classed, when it happens;
- `asker`: many samples at once on one event loop, under an in-flight cap and a durability window;
- `worker`: the `Asker` as the executor's streaming worker, and the split of budgets over workers;
- `pool`, `limits`, `endpoint`: endpoint pools with health, client-side rate budgets, URL resolution;
- `reasoning`: where a reply's reasoning is (a field, or inline tags); `sdk`: what is taken from the SDK.

The generate stage (`factory.stages.generate`) decides what to ask and journals what comes back.
"""
