"""The deterministic synthetic Dali demo dataset (L3–L6 grid, workers, positions, events).

Everything generated here is labelled ``synthetic``; only L1/L2 boundaries are real.
"""
