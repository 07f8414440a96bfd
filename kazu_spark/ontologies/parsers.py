"""Ontology sources and their parsers: one pure generator per file format, yielding synonym rows.

Every parser yields ``SynonymRow`` dicts ``{concept_id, default_label, synonym, synonym_type, metadata}``,
the label first, then the synonyms of that concept; obsolete/withdrawn concepts are skipped. ``metadata``
is a concept's extra facts as strings (HGNC entrez/ensembl ids, MeSH and MEDIC tree numbers, OBO
namespace; ``xrefs``, ``alt_ids`` and ``parents``: ``|``-joined ids; ``rank`` of a taxon, ``tax_id`` of a
gene), the same for every row of the concept. Files are read
gzip-compressed when their name ends in ``.gz``, as plain text otherwise. Formats:

* ``medic``: CTD's MEDIC disease vocabulary TSV (``ctd_diseases.tsv.gz``), ``#`` comment header.
* ``obo``: OBO 1.4 flat files (Cell Ontology, NCBI Taxonomy slim); only ``[Term]`` stanzas.
* ``hgnc``: the HGNC complete set TSV; approved genes only, concept id ``hgnc_id`` (``HGNC:5``).
* ``gene_info``: NCBI Gene's ``*.gene_info`` TSV (one organism per file); concept id ``NCBIGene:<GeneID>``,
  the HGNC/MGI ids of ``dbXrefs`` as metadata ``xrefs``.
* ``mesh``: MeSH descriptors TSV plus the tree numbers TSV; ``tree_prefix`` keeps one branch
  (``D`` = Chemicals and Drugs); concept id ``MESH:<descriptor id>``.
* ``mesh_xml``: NLM's MeSH XML, descriptors (``desc<year>.xml``) or supplementary concept records
  (``supp<year>.xml``), with every entry term (``rapamycin`` of Sirolimus), which the TSV lacks; see
  ``parse_mesh_xml``.
* ``doid_json``: the Disease Ontology as obographs JSON.
* ``csv``, ``tsv``, ``jsonl``, ``parquet``: any table of concepts, read through a ``ColumnMapping``
  (id, label, synonym columns with an optional separator, id prefix, metadata columns).
* ``pubtator``: the gold annotations of a PubTator corpus as curated synonyms (mention text -> gold id),
  e.g. from a TRAIN split; see ``parse_pubtator_curations``.
* ``drug_names``: the drug dictionary the ``drug-named-entity-recognition`` package ships (generic, brand and
  entry-term names of a drug under its canonical name); it has no ids, so its source maps it onto another
  source's concepts by their label (``xref_target``); see ``parse_drug_names``.

Paths in ``OntologySource.path`` are resolved by ``resolve_path``: ``pkg://kazu_spark/<rest>`` names a
file inside the installed package (the bundled subsets), anything else is a filesystem path, relative
ones taken against ``base`` when given, else the working directory.

Example:
    >>> from kazu_spark.config import OntologySource
    >>> from kazu_spark.ontologies.parsers import parse_source
    >>> source = OntologySource(name="CL", format="obo", entity_class="cell_type",
    ...     path="pkg://kazu_spark/resources/ontologies/cl-basic.obo.gz", id_prefix_filter="CL:")
    >>> row = next(parse_source(source))
    >>> row["concept_id"], row["default_label"], row["synonym_type"], row["metadata"]["xrefs"].split("|")[:2]
    ('CL:0000000', 'cell', 'label', ['CALOHA:TS-2035', 'FBbt:00007002'])
"""

from __future__ import annotations

import bz2
import csv
import functools
import gzip
import hashlib
import io
import itertools
import json
import os
import pickle
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TextIO, TypedDict

from kazu_spark.config import ColumnMapping, OntologySource
from kazu_spark.documents.pubtator import CORPUS_CLASSES, PubtatorDocument, document_ids, read_pubtator
from kazu_spark.linking.normalise import WORD
from kazu_spark.paths import resolve_path

_MEDIC_COLUMNS = (
    "DiseaseName",
    "DiseaseID",
    "AltDiseaseIDs",
    "Definition",
    "ParentIDs",
    "TreeNumbers",
    "ParentTreeNumbers",
    "Synonyms",
    "SlimMappings",
)
_OBO_SYNONYM = re.compile(r'^"((?:[^"\\]|\\.)*)"\s+(EXACT|RELATED|BROAD|NARROW)\b')
_OBO_ESCAPE = re.compile(r"\\(.)")
_HGNC_COLUMNS = {  # column -> synonym type, in output order
    "symbol": "symbol",
    "name": "name",
    "alias_symbol": "alias",
    "alias_name": "alias",
    "prev_symbol": "previous",
    "prev_name": "previous",
}
_HGNC_METADATA = ("locus_group", "location", "entrez_id", "ensembl_gene_id", "uniprot_ids")
#: HGNC columns of the mouse and rat orthologues' ids (``MGI:98834``), kept as metadata ``orthologues``
_HGNC_ORTHOLOGUES = ("mgd_id", "rgd_id")
_GENE_INFO_COLUMNS = {  # column -> synonym type, in output order; "-" is a blank
    "Symbol": "symbol",
    "Symbol_from_nomenclature_authority": "symbol",
    "Synonyms": "alias",
    "Full_name_from_nomenclature_authority": "name",
    "description": "name",
    "Other_designations": "related",
}
#: the name columns of a ``gene_info`` record whose words make a family word (``family_words``)
_GENE_NAME_COLUMNS = ("Full_name_from_nomenclature_authority", "description")
#: how many genes' names a plain word must be part of to be a family word (``family_words``)
FAMILY_WORD_GENES = 3
#: dbXrefs kept as metadata ``xrefs``: the nomenclature authorities' ids, written ``HGNC:HGNC:5`` there
_GENE_XREF_PREFIXES = ("HGNC:", "MGI:")
#: metadata keys whose ``|``-joined ids a concept also answers to (``id_index``)
ALIAS_KEYS = ("AltDiseaseIDs", "alt_ids", "xrefs")
_OBO_RANK = re.compile(r"^has_rank\s+NCBITaxon:(\S+)")
#: NCBITaxon's OBO build ships its rank vocabulary (``NCBITaxon:species``, ``NCBITaxon:genus``, ... under this
#: term) beside the taxa: words about taxa, not taxa, so never concepts ("FGSC species" linked ``species``)
_RANK_VOCABULARY = "NCBITaxon:taxonomic_rank"
#: cross-references of Disease Ontology classes kept (the ids MEDIC concepts have or list as alternatives)
_XREF_PREFIXES = ("MESH:", "OMIM:")
_OBOGRAPH_SCOPES = {
    "hasExactSynonym": "exact",
    "hasRelatedSynonym": "related",
    "hasBroadSynonym": "broad",
    "hasNarrowSynonym": "narrow",
}


class SynonymRow(TypedDict):
    """One surface form of one concept, as a parser yields it."""

    concept_id: str
    default_label: str
    synonym: str
    synonym_type: str
    metadata: dict[str, str]


def open_text(path: str) -> TextIO:
    """Open ``path`` for reading text: gunzipped when it ends in ``.gz``, UTF-8 either way."""
    if path.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _row(concept_id: str, label: str, synonym: str, synonym_type: str, metadata: dict[str, str]) -> SynonymRow:
    return SynonymRow(
        concept_id=concept_id, default_label=label, synonym=synonym, synonym_type=synonym_type, metadata=metadata
    )


def _present(record: dict[str, str | None], keys: Iterable[str]) -> dict[str, str]:
    """The non-blank values of ``keys`` in ``record``, stripped: a concept's metadata."""
    return {
        key: str(record[key]).strip() for key in keys if record.get(key) not in (None, "") and str(record[key]).strip()
    }


def _split(cell: str) -> list[str]:
    """Values of a ``|``-joined cell, blanks dropped."""
    return [value.strip() for value in cell.split("|") if value.strip()]


def parse_medic(path: str) -> Iterator[SynonymRow]:
    """Rows of CTD MEDIC: the DiseaseName as label, each ``|``-joined Synonym as ``exact``."""
    with open_text(path) as handle:
        rows = csv.reader((line for line in handle if not line.startswith("#")), delimiter="\t", quoting=csv.QUOTE_NONE)
        for cells in rows:
            record = dict(zip(_MEDIC_COLUMNS, cells, strict=False))
            label, concept_id = record.get("DiseaseName", "").strip(), record.get("DiseaseID", "").strip()
            if not label or not concept_id:
                continue
            metadata = _present(record, ("AltDiseaseIDs", "TreeNumbers"))
            yield _row(concept_id, label, label, "label", metadata)
            for synonym in _split(record.get("Synonyms", "")):
                yield _row(concept_id, label, synonym, "exact", metadata)


def obo_stanzas(lines: Iterable[str]) -> Iterator[tuple[str, list[str]]]:
    """Split OBO text into ``(header, lines)`` blocks: ``("", ...)`` for the preamble, then one per
    stanza (``"[Term]"``, ``"[Typedef]"``, ...); lines keep their line ends so blocks can be re-written."""
    header, block = "", []
    for line in lines:
        if line.startswith("["):
            yield header, block
            header, block = line.strip(), []
        block.append(line)
    yield header, block


def _obo_tags(block: list[str]) -> Iterator[tuple[str, str]]:
    for line in block:
        tag, sep, value = line.partition(":")
        if sep:
            yield tag, value.strip()


def obo_data_version(path: str) -> str | None:
    """The ``data-version:`` of an OBO file's header, if it states one."""
    with open_text(path) as handle:
        _, preamble = next(obo_stanzas(handle))
    return dict(_obo_tags(preamble)).get("data-version")


def _obo_metadata(tags: list[tuple[str, str]]) -> dict[str, str]:
    """An OBO term's metadata: ``namespace``, ``|``-joined ``xrefs``, ``alt_ids`` and ``parents`` (``is_a``
    ids, without their ``! label`` comment or qualifiers) and the NCBITaxon ``rank``."""
    values: dict[str, list[str]] = {}
    for tag, value in tags:
        key = {"xref": "xrefs", "alt_id": "alt_ids", "is_a": "parents", "namespace": "namespace"}.get(tag)
        rank = _OBO_RANK.match(value) if tag == "property_value" else None
        if key and value.split():
            values.setdefault(key, []).append(value.split()[0])
        elif rank:
            values["rank"] = [rank[1]]
    return {key: "|".join(ids) for key, ids in values.items()}


def _live_terms(path: str) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """``(label, tags)`` of each non-obsolete ``[Term]`` stanza with an id and a name."""
    with open_text(path) as handle:
        for header, block in obo_stanzas(handle):
            if header != "[Term]":
                continue
            tags = list(_obo_tags(block))
            fields = dict(tags)
            if fields.get("is_obsolete") != "true" and "id" in fields and "name" in fields:
                yield fields["name"], tags


#: OBO synonym scopes that do not say the synonym names the term itself: such a synonym that is another term's name
#: names that term
_NOT_SAME = ("broad", "narrow")


def parse_obo(path: str) -> Iterator[SynonymRow]:
    """Rows of an OBO file's non-obsolete ``[Term]`` stanzas: ``name`` as label, each ``synonym:`` with
    its scope lower-cased (``exact``, ``related``, ``broad``, ``narrow``); metadata as ``_obo_metadata``.
    NCBITaxon's rank vocabulary (``NCBITaxon:species``, a rank, not a taxon) is left out, and so is a
    ``BROAD`` or ``NARROW`` synonym that is another term's name (case aside): CL gives its three kinds of Schwann
    cell the broad synonym "Schwann cell", the name of their parent, and *CD14-positive monocyte* the narrow
    synonym "monocyte", the name of its parent; a mention of that name means the term it names. The file is read
    twice, the first time for the names.

    Example:
        >>> row = next(r for r in parse_obo("tests/data/ontologies/ncbitaxon-taxslim.obo") if r["synonym"] == "mouse")
        >>> row["metadata"]
        {'namespace': 'ncbi_taxonomy', 'alt_ids': 'NCBITaxon:85055', 'xrefs': 'GC_ID:1', \
'parents': 'NCBITaxon:862507', 'rank': 'species'}
    """
    names = {label.casefold() for label, _ in _live_terms(path)}
    for label, tags in _live_terms(path):
        fields = dict(tags)
        concept_id = fields["id"]
        metadata = _obo_metadata(tags)
        if _RANK_VOCABULARY in (concept_id, *_split(metadata.get("parents", ""))):
            continue
        yield _row(concept_id, label, label, "label", metadata)
        for tag, value in tags:
            match = _OBO_SYNONYM.match(value) if tag == "synonym" else None
            if not match:
                continue
            synonym, scope = _OBO_ESCAPE.sub(r"\1", match[1]), match[2].lower()
            if scope not in _NOT_SAME or synonym.casefold() == label.casefold() or synonym.casefold() not in names:
                yield _row(concept_id, label, synonym, scope, metadata)


def parse_hgnc(path: str) -> Iterator[SynonymRow]:
    """Rows of approved HGNC genes: symbol (the default label), name, alias and previous symbols/names. Metadata:
    ``_HGNC_METADATA`` and ``orthologues``, the ``|``-joined MGI and RGD ids of the mouse and rat orthologues (the
    ids those organisms' ``gene_info`` lists as ``xrefs``)."""
    with open_text(path) as handle:
        for record in csv.DictReader(handle, delimiter="\t"):
            if record["status"] != "Approved":
                continue
            concept_id, label = record["hgnc_id"], record["symbol"]
            metadata = _present(record, _HGNC_METADATA)
            if orthologues := [i for column in _HGNC_ORTHOLOGUES for i in _split(record.get(column) or "")]:
                metadata["orthologues"] = "|".join(orthologues)
            for column, synonym_type in _HGNC_COLUMNS.items():
                for synonym in _split(record[column] or ""):
                    yield _row(concept_id, label, synonym, synonym_type, metadata)


def _gene_records(path: str) -> Iterator[dict[str, str]]:
    """The records of a ``gene_info`` file with a GeneID and a Symbol, ``-`` cells blank."""
    with open_text(path) as handle:
        header = handle.readline().lstrip("#").rstrip("\r\n").split("\t")
        for line in handle:
            record = {k: "" if v == "-" else v for k, v in zip(header, line.rstrip("\r\n").split("\t"), strict=False)}
            if record.get("GeneID") and record.get("Symbol"):
                yield record


def _name_words(record: dict[str, str], columns: Iterable[str]) -> set[str]:
    return {w.lower() for column in columns for w in WORD.findall(record.get(column, ""))}


def family_words(path: str) -> Counter[str]:
    """Word -> the number of genes of a ``gene_info`` file whose name has it (``_GENE_NAME_COLUMNS``, lower case).

    Example:
        >>> family_words("tests/data/ontologies/gene_info.tsv")["p53"]
        1
    """
    return Counter(w for record in _gene_records(path) for w in _name_words(record, _GENE_NAME_COLUMNS))


def _family_aliases(record: dict[str, str], families: Counter[str]) -> set[str]:
    """The aliases of a gene that are plain words (lower case letters, four at least), part of no name or symbol of
    their own gene but of at least ``FAMILY_WORD_GENES`` other genes' names: words for those genes' family, which
    NCBI Gene lists for one gene by chance (mouse Tmem163 has ``actin`` from a transgene's name, Cxcl15 ``lung``,
    Tyrp1 ``brown``), and which would then take every ``actin`` of a paper."""
    plain = {a for a in _split(record.get("Synonyms", "")) if a.isalpha() and a.islower() and len(a) >= 4}
    if not plain:
        return set()
    own = _name_words(record, ("Symbol", *_GENE_NAME_COLUMNS))
    return {a for a in plain if a not in own and families[a] >= FAMILY_WORD_GENES}


def parse_gene_info(path: str) -> Iterator[SynonymRow]:
    """Rows of an NCBI Gene ``gene_info`` file: ``Symbol`` as label; the nomenclature authority's symbol
    (``symbol``), ``Synonyms`` (``alias``), the authority's full name and ``description`` (``name``) and
    ``Other_designations`` (``related``), each text once; not an alias that is other genes' family word
    (``_family_aliases``). Metadata: ``tax_id``, ``type_of_gene`` and ``xrefs``, the HGNC/MGI ids of ``dbXrefs``
    as CURIEs (``HGNC:HGNC:5`` -> ``HGNC:5``). The file is read twice: once for the family words.

    Example:
        >>> rows = list(parse_gene_info("tests/data/ontologies/gene_info.tsv"))
        >>> rows[0]["concept_id"], rows[0]["synonym"], rows[0]["metadata"]
        ('NCBIGene:1', 'A1BG', {'tax_id': '9606', 'type_of_gene': 'protein-coding', 'xrefs': 'HGNC:5'})
    """
    families = family_words(path)
    for record in _gene_records(path):
        concept_id, label = f"NCBIGene:{record['GeneID']}", record["Symbol"]
        metadata = _present(record, ("tax_id", "type_of_gene"))
        xrefs = [x.split(":", 1)[1] for x in _split(record.get("dbXrefs", "")) if x.startswith(_GENE_XREF_PREFIXES)]
        if xrefs:
            metadata["xrefs"] = "|".join(xrefs)
        dropped = _family_aliases(record, families)
        seen: set[str] = set()
        for column, synonym_type in _GENE_INFO_COLUMNS.items():
            for synonym in _split(record.get(column, "")):
                if synonym not in seen and not (synonym_type == "alias" and synonym in dropped):
                    seen.add(synonym)
                    yield _row(concept_id, label, synonym, synonym_type, metadata)


def mesh_tree_numbers(tree_numbers_path: str) -> dict[str, list[str]]:
    """Descriptor id -> its tree numbers, in file order."""
    trees: dict[str, list[str]] = {}
    with open_text(tree_numbers_path) as handle:
        for record in csv.DictReader(handle, delimiter="\t"):
            trees.setdefault(record["mesh_id"], []).append(record["mesh_tree_number"])
    return trees


def _under_tree(numbers: Iterable[str], tree_prefix: str) -> bool:
    """Whether a MeSH descriptor with these tree numbers sits under the branch ``tree_prefix``."""
    return any(number.startswith(tree_prefix) for number in numbers)


def parse_mesh(path: str, tree_numbers_path: str | None = None, tree_prefix: str | None = None) -> Iterator[SynonymRow]:
    """Rows of MeSH descriptors (``mesh_id``, ``mesh_name``), restricted to a tree branch when
    ``tree_prefix`` is given; the descriptor name is the label and only synonym; the ``|``-joined tree
    numbers are metadata ``tree_numbers``."""
    trees = mesh_tree_numbers(tree_numbers_path) if tree_numbers_path else {}
    with open_text(path) as handle:
        for record in csv.DictReader(handle, delimiter="\t"):
            numbers = trees.get(record["mesh_id"], [])
            if tree_prefix and not _under_tree(numbers, tree_prefix):
                continue
            name = record["mesh_name"].strip()
            metadata = {"tree_numbers": "|".join(numbers)} if numbers else {}
            yield _row(f"MESH:{record['mesh_id']}", name, name, "label", metadata)


#: a MeSH tree's first letter -> the supplementary-record class of that kind (chemicals, protocols, diseases,
#: organisms): what ``tree_prefix`` keeps of ``supp<year>.xml``, whose records have no tree numbers
_SCR_CLASS_OF_TREE = {"D": "1", "E": "2", "C": "3", "B": "4"}


def _mesh_record(record: ET.Element, tree_prefix: str | None) -> Iterator[SynonymRow]:
    """Rows of one ``DescriptorRecord`` or ``SupplementaryRecord`` (``parse_mesh_xml``)."""
    supplementary = record.tag == "SupplementaryRecord"
    kind = "SupplementaryRecord" if supplementary else "Descriptor"
    numbers = [n.text or "" for n in record.iterfind("TreeNumberList/TreeNumber")]
    if supplementary:
        kept = record.get("SCRClass") == _SCR_CLASS_OF_TREE.get(tree_prefix[0]) if tree_prefix else True
    else:
        kept = _under_tree(numbers, tree_prefix) if tree_prefix else True
    if not kept:
        return
    label = (record.findtext(f"{kind}Name/String") or "").strip()
    metadata = {"tree_numbers": "|".join(numbers)} if numbers else {}
    headings = record.iterfind("HeadingMappedToList/HeadingMappedTo/DescriptorReferredTo/DescriptorUI")
    if mapped := [f"MESH:{h.text.removeprefix('*')}" for h in headings if h.text]:
        metadata["mapped_to"] = "|".join(mapped)
    concept_id = f"MESH:{record.findtext(f'{kind}UI')}"
    yield _row(concept_id, label, label, "label", metadata)
    for concept in record.iterfind("ConceptList/Concept"):
        scope = "exact" if concept.get("PreferredConceptYN") == "Y" else "related"
        for term in concept.iterfind("TermList/Term/String"):
            if term.text and term.text.strip() != label:
                yield _row(concept_id, label, term.text.strip(), scope, metadata)


def parse_mesh_xml(path: str, tree_prefix: str | None = None) -> Iterator[SynonymRow]:
    """Rows of NLM's MeSH XML: descriptors (``desc<year>.xml``, concept ``MESH:D…``) or supplementary
    concept records (``supp<year>.xml``, ``MESH:C…``: most of the chemicals BC5CDR and PubTator link).

    The record's name is the label; the terms of its preferred concept are ``exact`` synonyms, those of
    its other (narrower, related) concepts ``related``. ``tree_prefix`` keeps the descriptors under a
    branch (``D``: chemicals and drugs) and the supplementary records of the same kind (``SCRClass``,
    ``_SCR_CLASS_OF_TREE``). Metadata: ``tree_numbers``; a supplementary record's descriptors as
    ``mapped_to``. Read record by record (``iterparse``), so the 300 MB files stay out of memory.

    Example:
        >>> rows = list(parse_mesh_xml("tests/data/ontologies/mesh-desc.xml", "D"))
        >>> sorted({(r["default_label"], r["synonym"]) for r in rows if r["synonym"] != r["default_label"]})[:2]
        [('Sirolimus', 'Rapamune'), ('Sirolimus', 'Rapamycin')]
    """
    with open_text(path) as handle:
        for _, element in ET.iterparse(handle):
            if element.tag in ("DescriptorRecord", "SupplementaryRecord"):
                yield from _mesh_record(element, tree_prefix)
                element.clear()


class _PlainData(pickle.Unpickler):
    """Unpickles dicts, lists, sets and strings only: a data file must not run code (``find_class`` refuses all)."""

    def find_class(self, module: str, name: str) -> type:
        raise pickle.UnpicklingError(f"{module}.{name}: a drug dictionary holds plain data only")


def parse_drug_names(path: str) -> Iterator[SynonymRow]:
    """Rows of the drug dictionary of the ``drug-named-entity-recognition`` package
    (``pkg://drug_named_entity_recognition/drug_ner_dictionary.pkl.bz2``: DrugBank's open vocabulary with
    MeSH's drug entry terms, MedlinePlus and NHS names): one concept per canonical drug, its id the canonical
    name in lower case (no ontology's id: ``xref_target`` maps it onto the concepts of that name), its name the
    label, every variant that names it a synonym, ``brand`` where the dictionary marks it a brand, else
    ``exact``. Read with a loader that builds plain data only.

    Example (the drug of ``rapamycin`` and ``dilevalol``, entry terms MeSH 2015's descriptor table lacks):
        >>> path = resolve_path("pkg://drug_named_entity_recognition/drug_ner_dictionary.pkl.bz2")
        >>> rows = list(parse_drug_names(path))
        >>> sorted((r["concept_id"], r["default_label"]) for r in rows if r["synonym"] in ("rapamycin", "dilevalol"))
        [('labetalol', 'Labetalol'), ('sirolimus', 'Sirolimus')]
    """
    with bz2.open(path, "rb") as handle:
        dictionary = _PlainData(handle).load()
    variants: dict[str, list[str]] = {}
    for variant, canonicals in dictionary["drug_variant_to_canonical"].items():
        for canonical in canonicals:
            variants.setdefault(canonical, []).append(variant)
    brands = {v for v, data in dictionary["drug_variant_to_variant_data"].items() if data.get("is_brand")}
    for canonical, data in dictionary["drug_canonical_to_data"].items():
        label = data.get("name") or canonical
        yield _row(canonical, label, label, "label", {})
        for variant in sorted(variants.get(canonical, ())):
            yield _row(canonical, label, variant, "brand" if variant in brands else "exact", {})


def name_index(rows: Iterable[SynonymRow]) -> dict[str, dict[str, str]]:
    """Lower-case label -> {concept id: label} of the concepts of ``rows``: what a ``drug_names`` source's
    names are looked up in (``map_drug_names``).

    Example:
        >>> name_index([_row("MESH:D020123", "Sirolimus", "Sirolimus", "label", {})])
        {'sirolimus': {'MESH:D020123': 'Sirolimus'}}
    """
    index: dict[str, dict[str, str]] = {}
    for row in rows:
        index.setdefault(row["default_label"].lower(), {})[row["concept_id"]] = row["default_label"]
    return index


def map_drug_names(rows: Iterable[SynonymRow], index: Mapping[str, dict[str, str]]) -> Iterator[SynonymRow]:
    """``parse_drug_names`` rows (a drug's rows together) re-targeted onto the concepts of ``index``
    (``name_index``) by ``map_cross_references``: a drug lands on the concepts named as the drug is, else on the
    one concept that its other names name (a descriptor renamed since the table's year: the dictionary's
    *Scopolamine* on MeSH 2015's *Scopolamine Hydrobromide*, which it lists as a name); a drug whose names name
    no concept, or several, is dropped.

    Example:
        >>> index = {"scopolamine hydrobromide": {"MESH:D012601": "Scopolamine Hydrobromide"}}
        >>> names = ("hyoscine", "scopolamine hydrobromide")
        >>> rows = [_row("scopolamine", "Scopolamine", name, "exact", {}) for name in names]
        >>> [(r["concept_id"], r["synonym"]) for r in map_drug_names(rows, index)]
        [('MESH:D012601', 'hyoscine'), ('MESH:D012601', 'scopolamine hydrobromide')]
    """
    for concept, group in itertools.groupby(rows, key=lambda row: row["concept_id"]):
        drug = list(group)
        targets = index.get(drug[0]["default_label"].lower(), {})
        if not targets:
            named = {c: label for row in drug for c, label in index.get(row["synonym"].lower(), {}).items()}
            targets = named if len(named) == 1 else {}
        yield from map_cross_references(drug, {concept: targets})


def obograph_id(uri: str) -> str:
    """``http://purl.obolibrary.org/obo/DOID_8718`` -> ``DOID:8718``."""
    return uri.rsplit("/", 1)[-1].replace("_", ":", 1)


def read_obographs(path: str) -> dict:
    """Load an obographs JSON document."""
    with open_text(path) as handle:
        return json.load(handle)


def parse_doid_json(path: str) -> Iterator[SynonymRow]:
    """Rows of the non-deprecated classes of an obographs JSON file (Disease Ontology): ``lbl`` as label,
    exact/related/broad/narrow synonyms; metadata ``xrefs`` (the ``|``-joined MeSH and OMIM xrefs),
    ``alt_ids`` (``hasAlternativeId``) and ``parents`` (``is_a`` edges), as ``parse_obo`` names them."""
    for graph in read_obographs(path)["graphs"]:
        parents: dict[str, list[str]] = {}
        for edge in graph.get("edges", []):
            if edge.get("pred") == "is_a":
                parents.setdefault(edge["sub"], []).append(obograph_id(edge["obj"]))
        for node in graph.get("nodes", []):
            meta = node.get("meta", {})
            if node.get("type") != "CLASS" or meta.get("deprecated") or not node.get("lbl"):
                continue
            concept_id, label = obograph_id(node["id"]), node["lbl"]
            values: dict[str, list[str]] = {"parents": parents.get(node["id"], [])}
            for value in meta.get("basicPropertyValues", []):
                key = {"#hasOBONamespace": "namespace", "#hasAlternativeId": "alt_ids"}.get(
                    "#" + value.get("pred", "").rpartition("#")[2]
                )
                if key and value.get("val"):
                    values.setdefault(key, []).append(value["val"])
            values["xrefs"] = [x["val"] for x in meta.get("xrefs", []) if x.get("val", "").startswith(_XREF_PREFIXES)]
            metadata = {
                key: values[key][0] if key == "namespace" else "|".join(ids) for key, ids in values.items() if ids
            }
            yield _row(concept_id, label, label, "label", metadata)
            for synonym in meta.get("synonyms", []):
                scope = _OBOGRAPH_SCOPES.get(synonym.get("pred", ""))
                if scope and synonym.get("val"):
                    yield _row(concept_id, label, synonym["val"], scope, metadata)


def _table_records(path: str, fmt: str) -> Iterator[dict]:
    """Records of a generic table file as dicts (column -> value)."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        yield from pq.read_table(path).to_pylist()
        return
    with open_text(path) as handle:
        if fmt == "jsonl":
            yield from (json.loads(line) for line in handle if line.strip())
        else:
            yield from csv.DictReader(handle, delimiter="," if fmt == "csv" else "\t")


def _cell_values(value: object, separator: str | None) -> list[str]:
    """The synonyms of one cell: a list (JSON/Parquet) or a string, split on ``separator`` when given."""
    values = value if isinstance(value, list) else [] if value is None else [value]
    parts = [p for v in values for p in (str(v).split(separator) if separator else [str(v)])]
    return [p.strip() for p in parts if p.strip()]


def parse_table(path: str, fmt: str, columns: ColumnMapping) -> Iterator[SynonymRow]:
    """Rows of a generic concept table through its column mapping: the label, then each synonym
    (``synonym_type`` = the column's name).

    Example:
        >>> mapping = ColumnMapping(id="id", label="name", synonyms=["aka"], separator=";", id_prefix="X:")
        >>> [r["synonym"] for r in parse_table("tests/data/ontologies/concepts.csv", "csv", mapping)][:3]
        ['aspirin', 'acetylsalicylic acid', 'ASA']
    """
    for record in _table_records(path, fmt):
        raw_id, label = record.get(columns.id), record.get(columns.label)
        if raw_id in (None, "") or label in (None, ""):
            continue
        concept_id = str(raw_id).strip()
        if columns.id_prefix and not concept_id.startswith(columns.id_prefix):
            concept_id = columns.id_prefix + concept_id
        label, metadata = str(label).strip(), _present(record, columns.metadata)
        yield _row(concept_id, label, label, "label", metadata)
        for column in columns.synonyms:
            for synonym in _cell_values(record.get(column), columns.separator):
                yield _row(concept_id, label, synonym, column, metadata)


def parse_pubtator_curations(
    path: str, annotation_types: list[str], exclude_documents: Iterable[str] = (), species: bool = False
) -> Iterator[SynonymRow]:
    r"""Curated synonyms from a PubTator corpus's gold annotations of ``annotation_types``, leaving out the
    documents whose id is a document of a file in ``exclude_documents`` (BioRED's train split holds 44
    abstracts of BC5CDR's devel split: their mentions would be memory, not linking, on BC5CDR devel).

    Each distinct mention text becomes a ``curated`` synonym of the annotation it has most often: one
    concept, or every part of a composite (``cholestatic hepatitis``: Cholestasis|Hepatitis, so the mention
    links both); ties keep every tied annotation, which then links ambiguously. ``-1`` annotations are
    skipped. A concept's label is its most frequent mention. Use TRAIN splits only: evaluating on the split
    the curations came from measures memory, not linking. With ``species``, a concept's metadata ``tax_id`` is
    the species (``document_species``) of most of the documents that annotate it (ties: the least id).

    Example (a rat paper's gene):
        >>> import tempfile
        >>> lines = ["1|t|Bax in rats", "1|a|", "1\t0\t3\tBax\tGeneOrGeneProduct\t24887",
        ...          "1\t7\t11\trats\tOrganismTaxon\t10116"]
        >>> with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        ...     _ = f.write("\n".join(lines) + "\n")
        >>> rows = parse_pubtator_curations(f.name, ["GeneOrGeneProduct"], species=True)
        >>> [(r["concept_id"], r["metadata"]) for r in rows]
        [('NCBIGene:24887', {'tax_id': '10116'})]
    """
    excluded = document_ids(exclude_documents)
    votes: dict[str, Counter[tuple[str, ...]]] = {}
    taxa: dict[str, Counter[str]] = {}
    for doc in read_pubtator(path):
        if doc.doc_id in excluded:
            continue
        taxon = document_species(doc) if species else None
        for mention in doc.mentions:
            if mention.corpus_type in annotation_types and mention.concept_ids:
                votes.setdefault(mention.mention.strip(), Counter())[tuple(sorted(mention.concept_ids))] += 1
                for concept in mention.concept_ids if taxon else ():
                    taxa.setdefault(concept, Counter())[taxon] += 1
    by_concept: dict[str, Counter[str]] = {}
    for text, annotated in votes.items():
        top = max(annotated.values())
        for concepts, n in annotated.items():
            for concept in concepts if n == top else ():
                by_concept.setdefault(concept, Counter())[text] += n
    for concept, texts in sorted(by_concept.items()):
        label = texts.most_common(1)[0][0]
        metadata = {"tax_id": _most_common(taxa[concept])} if concept in taxa else {}
        yield _row(concept, label, label, "label", metadata)
        for text in sorted(texts):
            if text != label:
                yield _row(concept, label, text, "curated", metadata)


def document_species(doc: PubtatorDocument) -> str | None:
    """The NCBI Taxonomy id (bare, as gene_info's ``tax_id``) that a document's species annotations name most
    (ties: the least id), None without any: the organism its genes most likely belong to.

    Example:
        >>> from kazu_spark.documents.pubtator import GoldMention
        >>> rats = GoldMention("1", 0, 4, "rats", "OrganismTaxon", ("NCBITaxon:10116",))
        >>> document_species(PubtatorDocument("1", mentions=[rats, rats])), document_species(PubtatorDocument("2"))
        ('10116', None)
    """
    named = Counter(
        i.removeprefix("NCBITaxon:")
        for m in doc.mentions
        if CORPUS_CLASSES.get(m.corpus_type) == "species"
        for i in m.concept_ids
    )
    return _most_common(named) if named else None


def _most_common(counts: Counter[str]) -> str:
    """The most counted key of ``counts``; ties: the least key."""
    return min(counts.items(), key=lambda item: (-item[1], item[0]))[0]


def concept_aliases(concept_id: str, metadata: Mapping[str, str | None]) -> list[str]:
    """The ids a concept answers to: its own, then those of its ``ALIAS_KEYS`` metadata (alternative and
    old ids, cross-references); MEDIC's ``DO:DOID:4`` is read as ``DOID:4``.

    Example:
        >>> concept_aliases("NCBIGene:1", {"xrefs": "HGNC:5", "tax_id": "9606"})
        ['NCBIGene:1', 'HGNC:5']
    """
    return [concept_id, *(i.removeprefix("DO:") for key in ALIAS_KEYS for i in _split(metadata.get(key) or ""))]


def id_index(concepts: Iterable[tuple[str, Mapping[str, str | None]]]) -> dict[str, set[str]]:
    """Id -> the concepts that answer to it (``concept_aliases``), from (concept id, metadata) pairs, e.g.
    the distinct ``concept_id``/``metadata`` of ``ontology_terms``: what ``resolve_ids`` looks ids up in.

    Example:
        >>> index = id_index([("NCBITaxon:10090", {"alt_ids": "NCBITaxon:85055"}), ("MESH:D1", {})])
        >>> index["NCBITaxon:85055"], index["MESH:D1"]
        ({'NCBITaxon:10090'}, {'MESH:D1'})
    """
    index: dict[str, set[str]] = {}
    for concept, metadata in concepts:
        for key in concept_aliases(concept, metadata):
            index.setdefault(key, set()).add(concept)
    return index


def resolve_ids(ids: Iterable[str], index: Mapping[str, set[str]]) -> set[str]:
    """The current concepts that ``ids`` name: a current id names itself, an alternative or merged (old) id
    or a cross-reference (``OMIM:``, ``HGNC:``, ``MESH:``...) names the concepts listing it; unknown ids
    name nothing.

    Example:
        >>> index = id_index([("NCBIGene:1", {"xrefs": "HGNC:5"}), ("MESH:D1", {"AltDiseaseIDs": "OMIM:2"})])
        >>> sorted(resolve_ids(["HGNC:5", "OMIM:2", "MESH:D1", "HGNC:404"], index))
        ['MESH:D1', 'NCBIGene:1']
    """
    return {concept for i in ids for concept in index.get(i, ())}


def cross_reference_index(rows: Iterable[SynonymRow]) -> dict[str, dict[str, str]]:
    """Id -> {concept id: default label} of the concepts of ``rows`` that answer to that id
    (``concept_aliases``: their id, MEDIC ``AltDiseaseIDs``, ``alt_ids`` and ``xrefs``).

    Example:
        >>> medic = [_row("MESH:D1", "Flu", "Flu", "label", {"AltDiseaseIDs": "DO:DOID:8469|OMIM:1"})]
        >>> cross_reference_index(medic)["DOID:8469"], sorted(cross_reference_index(medic))
        ({'MESH:D1': 'Flu'}, ['DOID:8469', 'MESH:D1', 'OMIM:1'])
        >>> genes = [_row("NCBIGene:1", "A1BG", "A1BG", "symbol", {"xrefs": "HGNC:5"})]
        >>> cross_reference_index(genes)["HGNC:5"]
        {'NCBIGene:1': 'A1BG'}
    """
    index: dict[str, dict[str, str]] = {}
    for row in rows:
        for key in concept_aliases(row["concept_id"], row["metadata"]):
            index.setdefault(key, {})[row["concept_id"]] = row["default_label"]
    return index


def map_cross_references(rows: Iterable[SynonymRow], index: dict[str, dict[str, str]]) -> Iterator[SynonymRow]:
    """``rows`` re-targeted through ``cross_reference_index``: each synonym becomes a synonym of every
    indexed concept that its concept (by id or by a metadata ``xrefs`` id) cross-references, with that
    concept's label and metadata ``xref_of`` = the original id (and its ``orthologues``, where it has some); rows
    of unmapped concepts are dropped.

    Example:
        >>> index = {"MESH:D1": {"MESH:D1": "Flu"}, "DOID:2": {"MESH:D3": "Cold"}}
        >>> rows = [_row("DOID:8469", "influenza", "grippe", "exact", {"xrefs": "MESH:D1"})]
        >>> [(r["concept_id"], r["default_label"], r["synonym"]) for r in map_cross_references(rows, index)]
        [('MESH:D1', 'Flu', 'grippe')]
    """
    for row in rows:
        targets: dict[str, str] = {}
        for key in [row["concept_id"], *_split(row["metadata"].get("xrefs", ""))]:
            targets.update(index.get(key, {}))
        metadata = {"xref_of": row["concept_id"]}
        if orthologues := row["metadata"].get("orthologues"):
            metadata["orthologues"] = orthologues
        for concept, label in sorted(targets.items()):
            yield _row(concept, label, row["synonym"], row["synonym_type"], metadata)


_PARSERS = {
    "medic": parse_medic,
    "obo": parse_obo,
    "hgnc": parse_hgnc,
    "gene_info": parse_gene_info,
    "doid_json": parse_doid_json,
    "drug_names": parse_drug_names,
}


def parse_source(
    source: OntologySource, base: str | Path | None = None, sources: Iterable[OntologySource] = ()
) -> Iterator[SynonymRow]:
    """Rows of one source, parsed with its format's parser and filtered by ``id_prefix_filter``; a source
    with ``xref_target`` is mapped onto that source (looked up by name in ``sources``) by
    ``map_cross_references``: by ids and cross-references, a ``drug_names`` source by the target's labels
    (``map_drug_names``)."""
    path = resolve_path(source.path, base)
    if source.format == "mesh":
        tree_path = resolve_path(source.tree_numbers_path, base) if source.tree_numbers_path else None
        rows = parse_mesh(path, tree_path, source.tree_prefix)
    elif source.format == "mesh_xml":
        rows = parse_mesh_xml(path, source.tree_prefix)
    elif source.columns is not None:
        rows = parse_table(path, source.format, source.columns)
    elif source.annotation_types:
        excluded = [resolve_path(other, base) for other in source.exclude_documents]
        rows = parse_pubtator_curations(path, source.annotation_types, excluded, source.species_from_documents)
        if ontologies := label_sources(source, sources):
            described = tuple(s.model_dump_json() for s in ontologies)
            rows = with_labels(rows, _labels(described, str(base or ""), _file_stamps(ontologies, base)))
    else:
        rows = _PARSERS[source.format](path)
    prefix = source.id_prefix_filter
    if prefix:
        rows = (row for row in rows if row["concept_id"].startswith(prefix))
    if source.xref_target:
        target = next((s for s in sources if s.name == source.xref_target), None)
        if target is None:
            raise ValueError(f"{source.name}: xref_target {source.xref_target!r} is not a configured source")
        targets = parse_source(target, base, sources)
        if source.format == "drug_names":
            rows = map_drug_names(rows, name_index(targets))
        else:
            rows = map_cross_references(rows, cross_reference_index(targets))
    return rows


def label_sources(source: OntologySource, sources: Iterable[OntologySource]) -> list[OntologySource]:
    """The sources whose labels a curation source's concepts take (``with_labels``): the configured sources of
    its class that are not curations; none for a source that is not a curation.

    Example:
        >>> medic = OntologySource(name="MEDIC", format="medic", entity_class="disease", path="m.tsv")
        >>> cur = OntologySource(name="C", format="pubtator", entity_class="disease", path="t.txt",
        ...                      annotation_types=["Disease"])
        >>> [s.name for s in label_sources(cur, [medic, cur])], label_sources(medic, [medic, cur])
        (['MEDIC'], [])
    """
    if not source.annotation_types:
        return []
    return [s for s in sources if s.entity_class == source.entity_class and not s.annotation_types]


def _file_stamps(sources: Iterable[OntologySource], base: str | Path | None) -> tuple[tuple[str, int, int], ...]:
    """(absolute path, mtime in ns, size) of every file of ``sources``: a file replaced in place is another key."""
    stamps = []
    for source in sources:
        for file in source.files(base):
            stat = os.stat(file)
            stamps.append((os.path.abspath(file), stat.st_mtime_ns, stat.st_size))
    return tuple(stamps)


@functools.lru_cache(maxsize=4)
def _labels(sources: tuple[str, ...], base: str, files: tuple[tuple[str, int, int], ...]) -> dict[str, str]:
    """Concept id -> label of the sources (as JSON, so the cache can key on them), the first source's label
    where several give one: parsed once while their ``files`` (``_file_stamps``, part of the key only) are
    unchanged, not once per curation source of the class."""
    labels: dict[str, str] = {}
    models = [OntologySource.model_validate_json(source) for source in sources]
    for source in models:
        for row in parse_source(source, base or None, models):
            labels.setdefault(row["concept_id"], row["default_label"])
    return labels


def with_labels(rows: Iterable[SynonymRow], labels: Mapping[str, str]) -> Iterator[SynonymRow]:
    """Curation ``rows`` with the label an ontology gives their concept, where it gives one: a curation's
    own label is only its most frequent mention (``tumor`` for Neoplasms, ``patients`` for *Homo
    sapiens*), which a link should not carry as the concept's name. The relabelled label row becomes a
    ``curated`` synonym. Such a row also drops the ``tax_id`` its documents gave it (``species``): the
    ontology's (a gene source's) organism is the concept's, one taxon per concept.

    Example:
        >>> rows = [SynonymRow(concept_id="MESH:D020123", default_label="rapamycin", synonym="rapamycin",
        ...                    synonym_type="label", metadata={})]
        >>> relabelled = with_labels(rows, {"MESH:D020123": "Sirolimus"})
        >>> [(r["default_label"], r["synonym"], r["synonym_type"]) for r in relabelled]
        [('Sirolimus', 'rapamycin', 'curated')]
    """
    for row in rows:
        label = labels.get(row["concept_id"])
        if label is None:
            yield row
            continue
        metadata = {key: value for key, value in row["metadata"].items() if key != "tax_id"}
        kind = "curated" if row["synonym_type"] == "label" and label != row["default_label"] else row["synonym_type"]
        yield {**row, "default_label": label, "synonym_type": kind, "metadata": metadata}


def source_checksum(
    source: OntologySource, base: str | Path | None = None, sources: Iterable[OntologySource] = ()
) -> str:
    """sha256 (hex) of the source's file bytes, its file(s) read in order: what ``ontology_terms`` records
    to tell a changed source from an unchanged one. A curation's covers the files of its ``label_sources``
    among ``sources`` too: its rows carry their labels, so a new release of those re-embeds its rows."""
    digest = hashlib.sha256()
    for file in [*source.files(base), *(f for s in label_sources(source, sources) for f in s.files(base))]:
        with open(file, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def source_version(source: OntologySource, base: str | Path | None = None) -> str:
    """The version a source states (OBO ``data-version``, obographs ``version``), else the first 12 hex
    digits of ``source_checksum``."""
    path = resolve_path(source.path, base)
    stated = None
    if source.format == "obo":
        stated = obo_data_version(path)
    elif source.format == "doid_json":
        stated = next(
            (g["meta"]["version"] for g in read_obographs(path)["graphs"] if "version" in g.get("meta", {})), None
        )
    return stated or source_checksum(source, base)[:12]
