"""Fine-tuning: base-model resolution, weights, and the training loop (DESIGN §8)."""
