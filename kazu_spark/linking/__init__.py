"""Entity linking: mentions to ontology concepts. Pure: ``normalise``, ``variants``, ``abbreviations``
(Schwartz–Hearst), ``fuzzy`` (character n-gram TF-IDF) and ``disambiguate`` (by document context). Spark
glue: ``spark`` (``link_entities``: the exact -> normalised -> variant -> fuzzy cascade against
``ontology_terms``, then abbreviations, disambiguation and confidence tiers)."""
