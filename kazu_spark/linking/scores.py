"""The scores of the linking strategies, shared by the Spark cascade and the pandas batch path.

A dictionary link outranks a looser one: exact 1.0, normalised 0.9, variant and species 0.85, a gene family's
members 0.8, a model organism taken for its bare genus 0.7, and fuzzy or embedding 0.8 x cosine; a short form's
link scores 0.95 x its long form's.

Example:
    >>> EXACT_SCORE > NORMALISED_SCORE > VARIANT_SCORE >= FUZZY_SCALE
    True
"""

EXACT_SCORE = 1.0
NORMALISED_SCORE = 0.9
VARIANT_SCORE = 0.85
#: a gene looked up again among the genes of the document's species scores this
SPECIES_SCORE = 0.85
#: a genus mention taken for its model organism, with no species of the genus named in its document: an
#: assumption, so a medium-confidence link (``linking.tiers``)
MODEL_ORGANISM_SCORE = 0.7
#: a gene family mention linked to the members its document names (``linking.gene_families``)
FAMILY_SCORE = 0.8
#: a fuzzy link scores this times its cosine similarity
FUZZY_SCALE = 0.8
#: an embedding link scores this times its cosine similarity (as fuzzy: below every dictionary strategy)
EMBEDDING_SCALE = 0.8
#: a short form's link scores this times its long form's score
ABBREVIATION_SCALE = 0.95
#: strategies that find a concept by similarity, not by one of its names: a long form's links of these kinds
#: do not replace a short form's own links by name (``CRC`` is a synonym of Colorectal Neoplasms; its long
#: form "colorectal carcinoma" is only fuzzily one of another concept)
LOOSE_STRATEGIES = frozenset({"fuzzy_tfidf", "embedding"})
