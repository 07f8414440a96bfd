"""Ontology sources: parsers (MEDIC, OBO, HGNC, MeSH, tables, curations), cross-references, and the
``ontology_terms`` table built from them."""
