"""What a run did, for the people asking afterwards: `factory status` (`status`: counts per stage, cost,
read from the run's files, mid-run too) and `factory audit` over the provenance database (`audit`).
"""
