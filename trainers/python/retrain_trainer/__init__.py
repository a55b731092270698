"""The reference trainer of the trainer contract v1: scikit-learn on tabular and text features.

contract.py is the part every trainer needs (activities, data plane, keys, heartbeats, errors);
model.py is the scikit-learn part a team replaces with its own; worker.py is the entry point.
"""

__version__ = "0.1.0"
