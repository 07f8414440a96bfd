"""The knowledge graph from the lakehouse, all Spark: ``build`` turns documents, entities and links into
``kg_nodes`` and ``kg_edges`` (mentions, sentence and document co-occurrence, with structured evidence and
the Biolink terms of ``biolink``; its sentence splitter is pure), ``export`` writes them for ``neo4j-admin``
bulk import or as GraphFrames Parquet, and ``kgx`` as KGX TSV."""
