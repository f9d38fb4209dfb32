"""Fine-tuning: base-model aliases, the bi-encoder and the training loop (docs/models.md, docs/training.md).

Where base-model weights come from is `lexdpr.models.sources`; the driver to read first is `trainer`.
"""
