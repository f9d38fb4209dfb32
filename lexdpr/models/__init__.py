"""Base-model weights on this machine: where a model folder comes from (`lexdpr.models.sources`).

Which base models exist and how they are used — aliases, pooling, text prefixes, the order the sources are
asked in — is `lexdpr.training.base_models`; this package only turns a request into a local folder.
"""
