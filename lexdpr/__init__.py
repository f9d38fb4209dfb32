"""lexdpr: fine-tune bi-encoder retrievers on Korean legal text from law.go.kr."""

__version__ = "0.1.0"
