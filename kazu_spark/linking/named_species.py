"""Genes whose species the text names right before them: ``human L-FABP`` in a mouse paper is the human gene.

A paper on transgenic mice names the human gene they carry: "mice that express human liver-type fatty acid
binding protein (L-FABP)". The document's species (``linking.gene_species``) is mouse, but that gene, each time
the paper names it, is human. GNormPlus reads a species word just before a gene mention the same way.
``species_named_before`` finds, in one document, the gene phrases (mentions and long forms) that directly follow
one of the document's species mentions (spaces or hyphens between) and the taxon that species mention links
to. A phrase found after mentions of two taxa ("human TNF" and "mouse TNF" in one paper) gets neither.

Linking (``linking.gene_species.named_species``) then reads the gene mentions that are that phrase, or whose
long form is, in that taxon instead of their document's: all 11 ``L-FABP`` mentions of that paper, through
their long form. Across BioRED's train and devel gene mentions right after a species word, the gold gene was
always of the species the word names.

Example:
    >>> text = "Mice express human liver-type fatty acid binding protein (L-FABP) and mouse Agtr1a."
    >>> phrases = pd.DataFrame({"doc_id": ["d"] * 5,
    ...     "phrase": ["human", "mouse", "liver-type fatty acid binding protein", "Agtr1a", "L-FABP"],
    ...     "taxon": ["NCBITaxon:9606", "NCBITaxon:10090", None, None, None]})
    >>> species_named_before(phrases, pd.DataFrame({"doc_id": ["d"], "text": [text]})).values.tolist()
    [['d', 'Agtr1a', 'NCBITaxon:10090'], ['d', 'liver-type fatty acid binding protein', 'NCBITaxon:9606']]
"""

from __future__ import annotations

import re
from collections import defaultdict

import pandas as pd

#: the columns :func:`species_named_before` returns (its Spark schema, as a DDL string)
NAMED_SPECIES_SCHEMA = "doc_id string, phrase string, taxon string"
#: the columns of the phrases it reads (the same as it returns)
NAMED_COLUMNS = ("doc_id", "phrase", "taxon")
#: what may stand between the species word and the gene phrase
_BETWEEN = r"[\s\-]+"


def _named_in(text: str, species: set[tuple[str, str]], genes: list[str]) -> dict[str, set[str]]:
    """gene phrase -> the taxa of the species mentions that directly precede it somewhere in ``text``."""
    found: dict[str, set[str]] = defaultdict(set)
    for name, taxon in species:
        for hit in re.finditer(rf"(?<!\w){re.escape(name)}{_BETWEEN}", text):
            for gene in genes:
                end = hit.end() + len(gene)
                if text.startswith(gene, hit.end()) and not (end < len(text) and text[end].isalnum()):
                    found[gene].add(taxon)
    return found


def species_named_before(phrases: pd.DataFrame, documents: pd.DataFrame) -> pd.DataFrame:
    """(doc_id, phrase, taxon) for each gene phrase that directly follows species mentions of one taxon in its
    document's text (module doc). ``phrases``: doc_id, phrase, taxon: a species mention's text with the taxon it
    links to, or a gene phrase with a null taxon; ``documents``: doc_id, text. Sorted by document and phrase."""
    texts = dict(zip(documents["doc_id"], documents["text"], strict=True))
    records = []
    for doc_id, part in phrases.groupby("doc_id", sort=True):
        text = texts.get(doc_id)
        named = part["taxon"].notna()
        species = set(zip(part.loc[named, "phrase"], part.loc[named, "taxon"], strict=True))
        genes = sorted(set(part.loc[~named, "phrase"].dropna()))
        if not isinstance(text, str) or not species or not genes:
            continue
        found = _named_in(text, species, genes)
        records += [(doc_id, gene, min(taxa)) for gene, taxa in sorted(found.items()) if len(taxa) == 1]
    return pd.DataFrame(records, columns=list(NAMED_COLUMNS))
