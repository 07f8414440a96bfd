"""The annotate composition: ``annotate_frames`` (DataFrames in, entities and links out, writes nothing),
the commit that writes them in order, and the hooks (progress, fault injection) around it."""
