"""Evaluation of retrievers on a test set: the BM25 baseline, a trained model, their fusion; `lex-dpr eval`.

The metrics themselves are `lexdpr.retrieval.metrics`: training scores its checkpoints with them too, and this
package imports training (to load and encode with a trained model), so they live below both.
"""
