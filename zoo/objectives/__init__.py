"""Training objectives: a data batch -> the tensors a loss reduces. Training only."""
