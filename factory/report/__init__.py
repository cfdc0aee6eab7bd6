"""What a run did and spent, for the people watching it: the live progress line (`progress`), cost per
endpoint (`cost`), `factory status` (`status`) and `factory audit` over the provenance database (`audit`).
"""
