"""Developer tools kept out of the runtime package: ontology subsets, cluster packaging, config docs."""
