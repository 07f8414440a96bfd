"""The knowledge graph from the lakehouse, all Spark: ``build`` turns documents, entities and links into
``kg_nodes`` and ``kg_edges`` (mentions, sentence and document co-occurrence, with evidence; its sentence
splitter is pure), and ``export`` writes them for ``neo4j-admin`` bulk import or as GraphFrames Parquet."""
