"""kazu-spark: biomedical NER and entity linking as a PySpark batch job writing Delta tables."""

__version__ = "0.1.0"
