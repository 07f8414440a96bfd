"""Evaluation: NER entity-level P/R/F1 on CoNLL corpora and linking accuracy on PubTator gold, through
the same composition as the job."""
