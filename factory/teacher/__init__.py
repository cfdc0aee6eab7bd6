"""The teacher stage: ask an OpenAI-compatible endpoint for samples, with retries in exactly one layer."""
