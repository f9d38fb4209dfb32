"""Fine-tuning: base-model resolution, weights, and the training loop (docs/models.md, docs/training.md)."""
