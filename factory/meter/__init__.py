"""What a run counts and spends as it goes: the live progress line of a stage (`progress`) and the prices
and costs of its endpoints (`cost`). The stages use both; `factory status` reads the same figures back.
"""
