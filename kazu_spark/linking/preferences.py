"""Prefer the specific concept: a species over its genus, a named concept over a catch-all, a gene over a pseudogene
or a readthrough.

One mention's candidates may name one thing at different depths. ``humans`` is the NCBI Taxonomy common
name of the genus *Homo* (NCBITaxon:9605) and, singular, ``human`` that of *Homo sapiens* (9606);
``mouse`` names the genus *Mus* and *Mus musculus*; ``cells`` may name ``CL:0000000 cell`` beside a cell
type; ``Tie2`` names the mouse gene ``Tek`` and its pseudogene ``Tek-ps``. A knowledge graph wants the
specific concept, so of a mention's candidates, in order:

1. **generic concepts** (``linking.generic_concepts``: catch-alls such as ``cell`` or ``Neoplasms``) lose
   to any other candidate;
2. a candidate that is an ``is_a`` **parent** of another candidate (metadata ``parents``) loses to it,
   except to its nominotypical subtaxon: a taxon of a ``sub`` rank that repeats its parent's name
   (``Drosophila <flies,subgenus>`` under the genus ``Drosophila <flies,genus>``) is the parent's namesake
   by the rules of nomenclature, so the bare name means the parent;
3. a taxon at **species rank** or below (metadata ``rank``: species, subspecies, strain, ...) beats taxa of
   a higher rank (genus, family, ...); an NCBI placeholder species named ``<Genus> sp.`` (``Mus sp.``, an
   unidentified species of *Mus*) counts as its genus. Taxa of no or an unknown rank (``no rank``,
   ``clade``) are left alone;
4. a **pseudogene** (metadata ``type_of_gene`` ``pseudo``, as NCBI Gene's ``gene_info`` gives it) loses to
   any candidate whose ``type_of_gene`` is known and another (``protein-coding``, ``ncRNA``, ...). A
   candidate without the fact (or NCBI's ``unknown``) is left alone; pseudogenes alone all stay;
5. a gene whose symbol joins **another candidate's symbol** to more with a hyphen loses to it: a readthrough
   (``INS-IGF2`` beside ``INS``: NCBI lists ``insulin`` among the readthrough's names, so every ``insulin`` linked
   both) or an antisense RNA (``HOXA10-AS`` beside ``HOXA10``). Genes only (a known ``type_of_gene``), symbols
   compared case aside.

Candidates without metadata (older ``ontology_terms``) are judged by rule 1 only.

``prefer_widened`` adds the candidates of the mention's *normalised* name: the cascade stops at the first
step that matches, so the exact plural ``humans`` finds only the genus and never meets the species'
``human``. Those extra candidates count only when they beat every original one.

Example:
    >>> homo = Concept("NCBITaxon:9605", rank="genus")
    >>> sapiens = Concept("NCBITaxon:9606", rank="species", parents=("NCBITaxon:9605",))
    >>> prefer_widened([homo], [homo, sapiens], generic=set())
    ['NCBITaxon:9606']
    >>> tek = Concept("NCBIGene:21687", label="Tek", type_of_gene="protein-coding")
    >>> preferred([tek, Concept("NCBIGene:100041286", label="Tek-ps", type_of_gene="pseudo")], generic=set())
    ['NCBIGene:21687']
    >>> ins = Concept("NCBIGene:3630", label="INS", type_of_gene="protein-coding")
    >>> preferred([ins, Concept("NCBIGene:723961", label="INS-IGF2", type_of_gene="protein-coding")], generic=set())
    ['NCBIGene:3630']
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import NamedTuple

#: NCBI Taxonomy ranks at species level and below
SPECIES_RANKS = frozenset(
    {"species", "subspecies", "varietas", "subvariety", "forma", "forma specialis", "strain", "serotype", "serogroup",
     "biotype", "genotype", "isolate", "morph", "pathogroup"}
)  # fmt: skip
#: NCBI Taxonomy ranks above species (``no rank`` and ``clade`` are in neither set)
HIGHER_RANKS = frozenset(
    {"superkingdom", "domain", "realm", "kingdom", "subkingdom", "superphylum", "phylum", "subphylum", "superclass",
     "class", "subclass", "infraclass", "cohort", "subcohort", "superorder", "order", "suborder", "infraorder",
     "parvorder", "superfamily", "family", "subfamily", "tribe", "subtribe", "genus", "subgenus", "section",
     "subsection", "series", "species group", "species subgroup"}
)  # fmt: skip
_PLACEHOLDER_SUFFIX = " sp."
#: ranks of a nominotypical subtaxon (one that may repeat its parent's name)
_SUB_RANKS = frozenset({"subgenus", "subfamily", "subtribe", "suborder", "subclass", "subphylum", "section"})
#: NCBI Gene's ``type_of_gene`` of a pseudogene
PSEUDOGENE = "pseudo"


class Concept(NamedTuple):
    """A candidate concept and the facts the rules read: its taxonomic rank, is_a parents, label and (a gene)
    NCBI Gene ``type_of_gene``."""

    concept_id: str
    rank: str | None = None
    parents: tuple[str, ...] = ()
    label: str | None = None
    type_of_gene: str | None = None


def rank_name(rank: str | float | None) -> str | None:
    """An NCBI Taxonomy rank as the rules compare it: ``species_group`` and ``Species group`` are ``species
    group``; None for no rank (None, NaN, blank).

    Example:
        >>> rank_name("species_group"), rank_name(" Genus "), rank_name(float("nan"))
        ('species group', 'genus', None)
    """
    return rank.replace("_", " ").strip().lower() or None if isinstance(rank, str) else None


def gene_type(type_of_gene: str | float | None) -> str | None:
    """An NCBI Gene ``type_of_gene`` as the rules compare it, stripped; None when not known (None, NaN, blank,
    NCBI's ``unknown``).

    Example:
        >>> gene_type(" pseudo "), gene_type("unknown"), gene_type(float("nan"))
        ('pseudo', None, None)
    """
    value = type_of_gene.strip() if isinstance(type_of_gene, str) else ""
    return value if value and value.lower() != "unknown" else None


def from_metadata(concept_id: str, metadata: Mapping[str, str | None] | None, label: str | None = None) -> Concept:
    """A ``Concept`` from an ``ontology_terms`` metadata map (``rank``; ``parents``, ``|``-joined ids;
    ``type_of_gene``); a missing or null key means not known.

    Example:
        >>> taxon = from_metadata("NCBITaxon:9606", {"rank": "species", "parents": "NCBITaxon:9605"}, "Homo sapiens")
        >>> taxon.rank, taxon.parents, taxon.label, taxon.type_of_gene
        ('species', ('NCBITaxon:9605',), 'Homo sapiens', None)
        >>> from_metadata("NCBIGene:7157", {"tax_id": "9606", "type_of_gene": "protein-coding"}).type_of_gene
        'protein-coding'
    """
    metadata = metadata or {}
    rank = metadata.get("rank")
    parents = tuple(p.strip() for p in (metadata.get("parents") or "").split("|") if p.strip())
    return Concept(concept_id, rank_name(rank), parents, label, gene_type(metadata.get("type_of_gene")))


@functools.lru_cache(maxsize=1 << 16)  # a batch's candidates repeat (every mention of a gene, a species)
def concept_of(
    concept_id: str, rank: str | None, parents: str | None, label: str | None, type_of_gene: str | None = None
) -> Concept:
    """:func:`from_metadata` of one candidate's facts as both linking engines read them (``parents``
    ``|``-joined), memoised.

    Example:
        >>> concept_of("NCBITaxon:9606", "species", "NCBITaxon:9605", "Homo sapiens").parents
        ('NCBITaxon:9605',)
        >>> concept_of("NCBIGene:100041286", None, None, "Tek-ps", "pseudo").type_of_gene
        'pseudo'
    """
    return from_metadata(concept_id, {"rank": rank, "parents": parents, "type_of_gene": type_of_gene}, label)


def is_pseudogene(type_of_gene: str | float | None) -> bool:
    """True when a ``type_of_gene`` (as the metadata holds it) is a pseudogene's.

    Example:
        >>> is_pseudogene("pseudo"), is_pseudogene("protein-coding"), is_pseudogene(None)
        (True, False, False)
    """
    return gene_type(type_of_gene) == PSEUDOGENE


def joins_a_symbol(candidate: Concept, symbols: Collection[str]) -> bool:
    """True when ``candidate`` is a gene (its ``type_of_gene`` known) whose symbol joins one of ``symbols``
    (upper case) to more with a hyphen: a readthrough or an antisense RNA of that gene (rule 5).

    Example:
        >>> readthrough = Concept("NCBIGene:723961", label="INS-IGF2", type_of_gene="protein-coding")
        >>> joins_a_symbol(readthrough, {"INS"}), joins_a_symbol(readthrough, {"TH"})
        (True, False)
        >>> joins_a_symbol(Concept("NCBITaxon:1", label="Escherichia coli O157-H7"), {"ESCHERICHIA COLI O157"})
        False
    """
    label = (candidate.label or "").upper()
    parts = label.split("-")
    return candidate.type_of_gene is not None and len(parts) > 1 and any(p != label and p in symbols for p in parts)


def _name(candidate: Concept) -> str:
    """The taxon's name without NCBI's ``<...>`` disambiguator: ``Drosophila <flies,genus>`` -> ``Drosophila``."""
    return (candidate.label or "").split(" <")[0].strip()


def _nominotypical(candidate: Concept, by_id: Mapping[str, Concept]) -> bool:
    """True when ``candidate`` is of a ``sub`` rank and repeats the name of a parent in ``by_id``."""
    if candidate.rank not in _SUB_RANKS or not candidate.label:
        return False
    return any(p in by_id and _name(by_id[p]) == _name(candidate) for p in candidate.parents)


def _species_level(candidate: Concept) -> bool:
    placeholder = (candidate.label or "").endswith(_PLACEHOLDER_SUFFIX)
    return candidate.rank in SPECIES_RANKS and not placeholder


def _above_species(candidate: Concept) -> bool:
    return candidate.rank in HIGHER_RANKS or (
        candidate.rank in SPECIES_RANKS and (candidate.label or "").endswith(_PLACEHOLDER_SUFFIX)
    )


def is_broad(candidate: Concept, generic: Collection[str]) -> bool:
    """True when a more specific concept would win over ``candidate``: it is generic, or a taxon above
    species rank (a placeholder ``<Genus> sp.`` included).

    Example:
        >>> is_broad(Concept("NCBITaxon:9605", rank="genus"), set()), is_broad(Concept("CL:0000000"), {"CL:0000000"})
        (True, True)
        >>> is_broad(Concept("NCBITaxon:9606", rank="species", label="Homo sapiens"), set())
        False
    """
    return candidate.concept_id in generic or _above_species(candidate)


def preferred(candidates: Iterable[Concept], generic: Collection[str]) -> list[str]:
    """The candidates' concept ids that the rules of the module doc keep, sorted; never empty when
    ``candidates`` is not.

    Example:
        >>> cell, t_cell = Concept("CL:0000000"), Concept("CL:0000084", parents=("CL:0000542",))
        >>> preferred([cell, t_cell], generic={"CL:0000000"})
        ['CL:0000084']
        >>> preferred([Concept("NCBITaxon:10088", rank="genus", label="Mus <genus>"),
        ...            Concept("NCBITaxon:10095", rank="species", label="Mus sp.")], generic=set())
        ['NCBITaxon:10088', 'NCBITaxon:10095']
    """
    kept = list({c.concept_id: c for c in candidates}.values())
    specific = [c for c in kept if c.concept_id not in generic]
    kept = specific or kept
    by_id = {c.concept_id: c for c in kept}
    kept = [c for c in kept if not _nominotypical(c, by_id)] or kept
    parents = {p for c in kept for p in c.parents}
    kept = [c for c in kept if c.concept_id not in parents] or kept
    if any(_species_level(c) for c in kept):
        kept = [c for c in kept if not _above_species(c)]
    if any(c.type_of_gene is not None and not is_pseudogene(c.type_of_gene) for c in kept):
        kept = [c for c in kept if not is_pseudogene(c.type_of_gene)]
    symbols = {c.label.upper() for c in kept if c.type_of_gene is not None and c.label}
    kept = [c for c in kept if not joins_a_symbol(c, symbols)] or kept
    return sorted(c.concept_id for c in kept)


def prefer_widened(original: Sequence[Concept], widened: Sequence[Concept], generic: Collection[str]) -> list[str]:
    """The concepts to keep of a mention whose cascade found ``original`` and whose normalised name also
    names ``widened``: ``widened``'s winners when the rules rank them above every original candidate,
    else the rules applied to ``original`` alone (a wider name never adds ambiguity).

    Example:
        >>> mus = Concept("NCBITaxon:10088", rank="genus", label="Mus <genus>")
        >>> sp = Concept("NCBITaxon:10095", rank="species", label="Mus sp.")
        >>> musculus = Concept("NCBITaxon:10090", rank="species", parents=("NCBITaxon:862507",))
        >>> prefer_widened([mus, sp], [mus, musculus, sp], generic=set())
        ['NCBITaxon:10090']
        >>> rat = Concept("NCBITaxon:10116", rank="species")
        >>> prefer_widened([musculus], [musculus, rat], generic=set())
        ['NCBITaxon:10090']
    """
    kept = preferred([*original, *widened], generic)
    if set(kept) & {c.concept_id for c in original}:
        return preferred(original, generic)
    return kept
