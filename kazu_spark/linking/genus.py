"""A genus named in a paper about one of its species is that species (``linking.genus_to_species``).

Papers name their organism in full once and then often by its genus alone: "*Bdellovibrio bacteriovorus*
HD100 ... *Bdellovibrio* attaches to ...", "*Drosophila*" in a paper about *D. melanogaster*. S800 and
BioRED annotate such a genus mention with the species, and a knowledge graph wants that edge, not one to the
genus. So a mention whose links are all to genus-rank taxa, in a document whose other mentions link
(unambiguously) exactly one species of that genus, links that species instead: strategy ``genus_species``,
score ``SPECIES_SCORE``, the species' concept id, source and label, the matched synonym kept. A document
naming two species of the genus keeps the genus link.

A document naming no species of the genus links a model organism's genus to the model organism
(``linking.model_organisms``: *Drosophila* -> *D. melanogaster*, *Arabidopsis* -> *A. thaliana*; S800 and
BioRED train annotate these genus mentions so), strategy ``model_organism``, score ``MODEL_ORGANISM_SCORE``
(medium confidence: an assumption, not a name). Other genera keep the genus link.

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

from collections.abc import Mapping

import pandas as pd

from kazu_spark.linking.preferences import SPECIES_RANKS, rank_name
from kazu_spark.linking.scores import MODEL_ORGANISM_SCORE, SPECIES_SCORE

#: is_a steps searched from a species-rank taxon up to its genus (subspecies, species, subgroup, group, subgenus)
ANCESTOR_HOPS = 5
#: the columns ``species_of_genus`` reads beside LINK_MATCH's
LINEAGE_COLUMNS = ("genus_rank", "ancestors")
STRATEGY = "genus_species"
#: the strategy of a genus mention linked to its model organism (``linking.model_organisms``)
MODEL_STRATEGY = "model_organism"


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


def model_species(model_organisms: Mapping[str, str], concepts: pd.DataFrame) -> pd.DataFrame:
    """``species_of_genus``'s ``model_rows`` (genus, concept_id, source, default_label): each model organism of
    ``model_organisms`` (genus id -> species id) found in ``concepts`` (concept_id, source, default_label, rank),
    by the ranked row (a taxonomy's, not a curation's) of the least source name, so every engine picks alike.

    Example:
        >>> concepts = pd.DataFrame({"concept_id": ["NCBITaxon:7227", "NCBITaxon:7227"], "source": ["T", "C"],
        ...     "default_label": ["Drosophila melanogaster", "fly"], "rank": ["species", None]})
        >>> organisms = {"NCBITaxon:7215": "NCBITaxon:7227", "NCBITaxon:3701": "NCBITaxon:3702"}
        >>> model_species(organisms, concepts).values.tolist()
        [['NCBITaxon:7215', 'NCBITaxon:7227', 'T', 'Drosophila melanogaster']]
    """
    ranked = concepts[concepts["rank"].notna() & concepts["concept_id"].isin(set(model_organisms.values()))]
    first = ranked.sort_values(["concept_id", "source"]).drop_duplicates("concept_id")
    pairs = pd.DataFrame(list(model_organisms.items()), columns=["genus", "concept_id"])
    return pairs.merge(first[["concept_id", "source", "default_label"]], on="concept_id")


def species_of_genus(links: pd.DataFrame, model_rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """``links`` of any documents (LINK_MATCH columns and more; ``genus_rank``: the concept is ranked genus;
    ``ancestors``: a species-rank concept's ancestors within ``ANCESTOR_HOPS`` steps, else empty), every genus
    mention relinked to its document's one species of that genus (module doc). ``model_rows`` (``genus``,
    ``concept_id``, ``source``, ``default_label``): the species a genus mention links when its document names
    no species of that genus at all (``linking.model_organisms``: *Drosophila* is *D. melanogaster*), strategy
    ``MODEL_STRATEGY``, score ``MODEL_ORGANISM_SCORE``. The other columns are kept (a moved link keeps its genus
    link's), the lineage ones dropped, rows in order.

    Example (a fly paper that names no fly species):
        >>> links = pd.DataFrame({"entity_id": ["a"], "doc_id": "d", "via": "mention", "concept_id": "NCBITaxon:7215",
        ...     "source": "NCBITaxon", "default_label": "Drosophila", "matched_synonym": "Drosophila",
        ...     "strategy": "exact", "score": 1.0, "ambiguous": False, "genus_rank": True, "ancestors": [[]]})
        >>> model = pd.DataFrame({"genus": ["NCBITaxon:7215"], "concept_id": ["NCBITaxon:7227"],
        ...     "source": ["NCBITaxon"], "default_label": ["Drosophila melanogaster"]})
        >>> species_of_genus(links, model)[["concept_id", "strategy", "score"]].values.tolist()
        [['NCBITaxon:7227', 'model_organism', 0.7]]
    """
    columns = [c for c in links.columns if c not in LINEAGE_COLUMNS]
    genus_rank = links["genus_rank"].astype(bool)
    if not genus_rank.any():
        return links[columns]
    species = links[~links["ambiguous"].astype(bool) & links["ancestors"].map(lambda a: a is not None and len(a) > 0)]
    evidence = (
        species[["doc_id", "concept_id", "source", "default_label", "ancestors"]]
        .explode("ancestors")
        .rename(columns={"ancestors": "genus"})
        .drop_duplicates(["doc_id", "genus", "concept_id"])
        .assign(strategy=STRATEGY, score=SPECIES_SCORE)
    )
    if model_rows is not None and len(model_rows):
        mentioned = links.loc[genus_rank, ["doc_id", "concept_id"]].drop_duplicates()
        unnamed = mentioned.rename(columns={"concept_id": "genus"}).merge(
            evidence[["doc_id", "genus"]].drop_duplicates(), how="left", indicator=True
        )
        unnamed = unnamed[unnamed["_merge"] == "left_only"].drop(columns="_merge")
        defaults = unnamed.merge(model_rows, on="genus").assign(strategy=MODEL_STRATEGY, score=MODEL_ORGANISM_SCORE)
        evidence = pd.concat([evidence, defaults], ignore_index=True)
    evidence = evidence[evidence.groupby(["doc_id", "genus"], sort=False)["concept_id"].transform("size") == 1]
    all_genus = genus_rank.groupby(links["entity_id"], sort=False).transform("all")
    movable = links[all_genus].reset_index()
    on = {"left_on": ["doc_id", "concept_id"], "right_on": ["doc_id", "genus"]}
    moved = movable.merge(evidence, **on, suffixes=("", "_species"))
    if moved.empty:
        return links[columns]
    moved = moved.assign(
        concept_id=moved["concept_id_species"],
        source=moved["source_species"],
        default_label=moved["default_label_species"],
        strategy=moved["strategy_species"],
        score=moved["score_species"],
    )
    moved["ambiguous"] = moved.groupby("entity_id", sort=False)["concept_id"].transform("nunique") > 1
    moved = moved.drop_duplicates(["entity_id", "concept_id"])
    kept = links[~links["entity_id"].isin(set(moved["entity_id"]))]
    out = pd.concat([kept.reset_index(), moved[["index", *kept.columns]]], ignore_index=True)
    return out.sort_values("index", kind="stable")[columns].reset_index(drop=True)
