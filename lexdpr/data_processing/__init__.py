"""The data stages: raw law.go.kr JSON → passages → query–passage pairs → merged corpus."""
