"""NER: texts to entity spans. Pure (torch, no Spark): ``model_files``, ``labels``, ``model``, ``windows``,
``batching``, ``decode`` and ``tagger`` (``Tagger.from_dir(path).tag(texts)``). Spark glue: ``spark``
(``tag_documents``: the weights shipped once, one tagger per Python worker) and ``dictionary`` (ontology
synonyms found by Aho–Corasick, ``dictionary_entities``, merged with the model's entities)."""
