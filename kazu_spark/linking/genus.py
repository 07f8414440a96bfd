"""A genus named in a paper about one of its species is that species (``linking.genus_to_species``).

Papers name their organism in full once and then often by its genus alone: "*Bdellovibrio bacteriovorus*
HD100 ... *Bdellovibrio* attaches to ...", "*Drosophila*" in a paper about *D. melanogaster*. S800 and
BioRED annotate such a genus mention with the species, and a knowledge graph wants that edge, not one to the
genus. So a mention whose links are all to genus-rank taxa, in a document whose other mentions link
(unambiguously) exactly one species of that genus, links that species instead: strategy ``genus_species``,
score ``SPECIES_SCORE``, the species' concept id, source and label, the matched synonym kept. A document
naming two species of the genus (or none) keeps the genus link.

"Of that genus": the genus is among the species' ancestors within ``ANCESTOR_HOPS`` is_a steps (*Drosophila
melanogaster*, its species subgroup, group, the subgenus *Sophophora*, then *Drosophila*: four).

Example:
    >>> links = pd.DataFrame({"entity_id": ["a", "b"], "doc_id": "d", "via": "mention",
    ...     "concept_id": ["NCBITaxon:958", "NCBITaxon:959"], "source": "NCBITaxon",
    ...     "default_label": ["Bdellovibrio", "Bdellovibrio bacteriovorus"], "matched_synonym": "x",
    ...     "strategy": "exact", "score": 1.0, "ambiguous": False, "genus_rank": [True, False],
    ...     "ancestors": [[], ["NCBITaxon:958", "NCBITaxon:213483"]]})
    >>> species_of_genus(links)[["entity_id", "concept_id", "strategy", "score"]].values.tolist()
    [['a', 'NCBITaxon:959', 'genus_species', 0.85], ['b', 'NCBITaxon:959', 'exact', 1.0]]
"""

from __future__ import annotations

import pandas as pd

from kazu_spark.linking.preferences import SPECIES_RANKS, rank_name
from kazu_spark.linking.scores import SPECIES_SCORE

#: is_a steps searched from a species-rank taxon up to its genus (subspecies, species, subgroup, group, subgenus)
ANCESTOR_HOPS = 5
#: the columns ``species_of_genus`` reads beside LINK_MATCH's
LINEAGE_COLUMNS = ("genus_rank", "ancestors")
STRATEGY = "genus_species"


def is_species_rank(rank: str | float | None) -> bool:
    """Whether an NCBI Taxonomy rank (metadata spelling, ``species_group`` or ``species group``) is at
    species level or below.

    Example:
        >>> is_species_rank("subspecies"), is_species_rank("species_group"), is_species_rank(None)
        (True, False, False)
    """
    return rank_name(rank) in SPECIES_RANKS


def is_genus_rank(rank: str | float | None) -> bool:
    """Whether an NCBI Taxonomy rank (metadata spelling) is ``genus``.

    Example:
        >>> is_genus_rank("genus"), is_genus_rank("subgenus"), is_genus_rank(float("nan"))
        (True, False, False)
    """
    return rank_name(rank) == "genus"


def species_of_genus(links: pd.DataFrame) -> pd.DataFrame:
    """``links`` of any documents (LINK_MATCH columns and more; ``genus_rank``: the concept is ranked genus;
    ``ancestors``: a species-rank concept's ancestors within ``ANCESTOR_HOPS`` steps, else empty), every genus
    mention relinked to its document's one species of that genus (module doc). The other columns are kept (a
    moved link keeps its genus link's), the lineage ones dropped, rows in order."""
    columns = [c for c in links.columns if c not in LINEAGE_COLUMNS]
    species = links[~links["ambiguous"].astype(bool) & links["ancestors"].map(lambda a: a is not None and len(a) > 0)]
    if species.empty or not links["genus_rank"].astype(bool).any():
        return links[columns]
    evidence = (
        species[["doc_id", "concept_id", "source", "default_label", "ancestors"]]
        .explode("ancestors")
        .rename(columns={"ancestors": "genus"})
        .drop_duplicates(["doc_id", "genus", "concept_id"])
    )
    evidence = evidence[evidence.groupby(["doc_id", "genus"])["concept_id"].transform("size") == 1]
    genus_rank = links["genus_rank"].astype(bool)
    all_genus = genus_rank.groupby(links["entity_id"]).transform("all")
    movable = links[all_genus].reset_index()
    on = {"left_on": ["doc_id", "concept_id"], "right_on": ["doc_id", "genus"]}
    moved = movable.merge(evidence, **on, suffixes=("", "_species"))
    if moved.empty:
        return links[columns]
    moved = moved.assign(
        concept_id=moved["concept_id_species"],
        source=moved["source_species"],
        default_label=moved["default_label_species"],
        strategy=STRATEGY,
        score=SPECIES_SCORE,
    )
    moved["ambiguous"] = moved.groupby("entity_id")["concept_id"].transform("nunique") > 1
    moved = moved.drop_duplicates(["entity_id", "concept_id"])
    kept = links[~links["entity_id"].isin(set(moved["entity_id"]))]
    out = pd.concat([kept.reset_index(), moved[["index", *kept.columns]]], ignore_index=True)
    return out.sort_values("index", kind="stable")[columns].reset_index(drop=True)
