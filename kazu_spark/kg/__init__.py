"""Knowledge-graph tables (``kg_nodes``, ``kg_edges``) built from the lakehouse, and their exports.

``build`` turns documents, entities and links into nodes and edges; ``export`` writes them for
``neo4j-admin`` bulk import or as GraphFrames Parquet.
"""
