"""Typed configuration, validated on load: an invalid value fails before any work, naming its key.

Layers, later wins: ``conf/default.yaml`` (shipped in the package as ``resources/default.yaml``), then
``--conf FILE``, then ``flags`` (a command's own flags, ``--lakehouse``, ``--input``: taken literally),
then ``key.path=value`` overrides (``--set``: each value read as YAML, see :func:`yaml_value`).

Example:
    >>> cfg = load_config(overrides={"ner.threshold": "0.4"}, flags={"lakehouse": "/data/lake #prod"})
    >>> cfg.ner.threshold, cfg.lakehouse
    (0.4, '/data/lake #prod')
    >>> load_config(overrides={"input.max_chars": "0"})
    Traceback (most recent call last):
    ...
    kazu_spark.errors.ConfigError: invalid configuration: input.max_chars: Input should be greater than 0 (got 0)
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from kazu_spark.errors import ConfigError, CredentialsInPathError
from kazu_spark.paths import resolve_path, validate_path
from kazu_spark.schemas import ENTITY_CLASSES

log = logging.getLogger(__name__)

DEFAULT_CONFIG = "pkg://kazu_spark/resources/default.yaml"

#: a configured location, checked by :func:`~kazu_spark.paths.validate_path` (no NUL, known schemes only)
PathStr = Annotated[str, AfterValidator(validate_path)]

#: Spark setting names whose values are secrets: shown as ``***`` by :meth:`Config.redacted`
SECRET_KEY = re.compile(r"(?i)secret|password|passwd|token|credential|key|sas|signature")


#: how token probabilities become spans (see :mod:`kazu_spark.ner.decode`)
Decoder = Literal["sigmoid", "softmax", "io"]
#: how sub-token probabilities become word probabilities before decoding; none decodes sub-tokens
Aggregation = Literal["first", "mean", "max", "none"]
#: where the tagger runs, and at what precision (see :mod:`kazu_spark.ner.tagger`)
Device = Literal["auto", "cpu", "cuda"]
Precision = Literal["auto", "fp32", "bf16", "fp16", "int8"]

#: ontology file formats (see :mod:`kazu_spark.ontologies.parsers`); ``gene_info``: an NCBI Gene
#: ``*.gene_info`` file, concepts ``NCBIGene:<GeneID>`` with their HGNC/MGI ids as cross-references
Format = Literal[
    "medic",
    "obo",
    "hgnc",
    "gene_info",
    "mesh",
    "mesh_xml",
    "doid_json",
    "drug_names",
    "csv",
    "tsv",
    "jsonl",
    "parquet",
    "pubtator",
]
#: formats whose concepts a source can map onto another's by id or cross-reference (``xref_target``)
XREF_FORMATS = ("doid_json", "obo", "hgnc", "gene_info", "drug_names")
#: formats read through a ``ColumnMapping``
TABLE_FORMATS = ("csv", "tsv", "jsonl", "parquet")


class ColumnMapping(BaseModel):
    """Which columns of a generic table (csv/tsv/jsonl/parquet) hold what; one row is one concept.

    ``synonyms`` cells are split on ``separator`` when given; ``id_prefix`` is prepended to ids that
    do not already start with it (``D003920`` -> ``MESH:D003920``); ``metadata`` columns are copied into
    the terms' ``metadata`` map. Rows sharing an id are merged into one concept (the first label wins).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="column with the concept id")
    label: str = Field(description="column with the preferred label")
    synonyms: list[str] = Field(default_factory=list, description="columns with more surface forms")
    separator: str | None = Field(None, description="splits a synonym cell into several synonyms")
    id_prefix: str | None = Field(None, description="prepended to ids that lack it, e.g. 'MESH:'")
    metadata: list[str] = Field(default_factory=list, description="columns copied into metadata")


class OntologySource(BaseModel):
    """One ontology file (two for MeSH) and the entity class its concepts link.

    ``id_prefix_filter`` keeps only concepts whose id starts with it (``CL:`` drops the imported
    ``CP:`` terms of cl-basic); ``tree_numbers_path``/``tree_prefix`` are for ``mesh`` only; ``columns``
    is required by (and only allowed for) the generic table formats; ``annotation_types`` by ``pubtator``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="source name stored in ontology_terms.source, e.g. MEDIC")
    format: Format = Field(description="file format of path")
    path: str = Field(description="ontology file: local path, pkg://, dbfs:/, /Volumes/... or a URI")
    entity_class: str = Field(description="entity class whose mentions link to these concepts")
    tree_numbers_path: str | None = Field(None, description="mesh only: MeSH tree-numbers file")
    tree_prefix: str | None = Field(
        None, description="mesh and mesh_xml only: keep descriptors under this tree (D: drugs)"
    )
    id_prefix_filter: str | None = Field(None, description="keep only concepts whose id starts with this")
    columns: ColumnMapping | None = Field(None, description="csv/tsv/jsonl/parquet only: column mapping")
    annotation_types: list[str] | None = Field(None, description="pubtator only: types kept as synonyms")
    exclude_documents: list[str] = Field(
        default_factory=list,
        description="pubtator only: PubTator files whose document ids are left out of the curations (other "
        "corpora's devel/test splits that share abstracts with this train split)",
    )
    xref_target: str | None = Field(
        None,
        description="name of another source: this source's labels and synonyms become synonyms of the target's "
        "concepts they cross-reference (xrefs, or the target's alternative ids and xrefs: an HGNC row onto the "
        "NCBI Gene concept listing its HGNC id; a drug_names source's drugs: the target's concepts named as the drug, "
        "else the one concept its other names name); concepts without one are dropped",
    )
    tier: int = Field(
        1,
        ge=0,
        description="dictionary lookup order: tier 0 sources first (train curations), then 1 (the default), "
        "then 2 (fallbacks); a mention one tier's synonyms match never reaches the next",
    )
    species_from_documents: bool = Field(
        False,
        description="pubtator only: a curated concept that no other source of its class names (a rat gene, where "
        "the gene sources are human and mouse) takes as metadata tax_id the species its training documents mention "
        "most, so linking.gene_species keeps it to papers on that species",
    )
    abbreviate_binomials: bool = Field(
        False,
        description="the source's terms are its binomial names and synonyms with the genus cut to its initial "
        "('Mycobacterium bovis' -> 'M. bovis', the form papers use after the first mention) instead of the names "
        "themselves: declare the file a second time with this at a later tier, so a full name always wins",
    )

    @model_validator(mode="after")
    def _check(self) -> OntologySource:
        if self.entity_class not in ENTITY_CLASSES:
            raise ValueError(f"entity_class {self.entity_class!r} is not one of {ENTITY_CLASSES}")
        if self.format == "mesh" and self.tree_prefix and not self.tree_numbers_path:
            raise ValueError("a mesh source with tree_prefix needs tree_numbers_path")
        if self.format != "mesh" and self.tree_numbers_path:
            raise ValueError("tree_numbers_path only applies to the mesh format")
        if self.format not in ("mesh", "mesh_xml") and self.tree_prefix:
            raise ValueError("tree_prefix only applies to the mesh and mesh_xml formats")
        if (self.format in TABLE_FORMATS) != (self.columns is not None):
            raise ValueError(f"columns (a column mapping) is required by, and only allowed for, {TABLE_FORMATS}")
        if (self.format == "pubtator") != bool(self.annotation_types):
            raise ValueError("annotation_types is required by, and only allowed for, the pubtator format")
        if (self.exclude_documents or self.species_from_documents) and self.format != "pubtator":
            raise ValueError("exclude_documents and species_from_documents only apply to the pubtator format")
        if self.xref_target and self.format not in XREF_FORMATS:
            raise ValueError(f"xref_target applies to the formats {XREF_FORMATS} only (ids or xrefs to map by)")
        if self.format == "drug_names" and not self.xref_target:
            raise ValueError("a drug_names source has no ids of its own: xref_target names the source it maps onto")
        return self

    def files(self, base: str | Path | None = None) -> list[str]:
        """The source's resolved file paths (one, two for MeSH, more with ``exclude_documents``)."""
        paths = [self.path, self.tree_numbers_path] if self.tree_numbers_path else [self.path]
        paths += self.exclude_documents
        return [resolve_path(p, base) for p in paths]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class InputConfig(_Strict):
    """Where documents come from."""

    path: PathStr | None = Field(None, description="input file, folder or table path")
    format: Literal["auto", "jsonl", "parquet", "delta", "text", "pubtator", "pubmed_xml", "table"] = Field(
        "auto",
        description="input format; auto detects from the path (.xml, .xml.gz: pubmed_xml), or a catalog table's "
        "name (table: schema.table or catalog.schema.table, read with spark.table)",
    )
    max_chars: int = Field(1_000_000, gt=0, description="documents longer than this are quarantined")
    driver_parse_bytes: int = Field(
        4_000_000,
        ge=0,
        description="a JSON Lines or PubTator input of at most this many bytes is parsed and checked on the "
        "driver, so a small increment needs no Python worker before NER; 0 parses every input on the executors",
    )


class SparkConfig(_Strict):
    """Session settings for local runs; spark-submit and notebooks bring their own master."""

    master: str | None = Field(
        None, description="Spark master; None uses $SPARK_MASTER or local[*,4] (all cores, a failed task tried 4 times)"
    )
    remote: str | None = Field(
        None,
        description="Spark Connect URL (sc://host:port, or local[N] for a local Connect server); None uses "
        "$SPARK_REMOTE, and classic Spark when that is unset too",
    )
    conf: dict[str, str] = Field(default_factory=dict, description="extra Spark settings passed through")


#: a step given as a Python entry point, ``package.module:function``
ENTRY_POINT = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*$")
#: built-in NER steps: the transformer (``model``) and the ontology dictionary (``dictionary``)
NER_STEPS = ("model", "dictionary")
#: built-in linking steps, the cascade's strategies (see :mod:`kazu_spark.linking.spark`)
LINKING_STEPS = ("exact", "normalised", "variants", "embedding", "fuzzy")


def _steps(builtin: tuple[str, ...]) -> Callable[[list[str]], list[str]]:
    """A validator: each step is a built-in name or an entry point, listed once, and at least one is listed."""

    def check(steps: list[str]) -> list[str]:
        for step in steps:
            if step not in builtin and not ENTRY_POINT.match(step):
                raise ValueError(f"unknown step {step!r}: one of {', '.join(builtin)} or 'package.module:function'")
        if len(set(steps)) != len(steps):
            raise ValueError(f"a step is listed twice in {steps}")
        if not steps:
            raise ValueError("at least one step is needed")
        return steps

    return check


class DictionaryConfig(_Strict):
    """The ``dictionary`` NER step: Aho-Corasick search for ontology synonyms in the text."""

    sources: list[str] = Field(default_factory=list, description="ontology sources searched; [] = all")
    min_length: int = Field(3, gt=0, description="shortest synonym searched, in characters")
    blocklist: list[str] = Field(default_factory=list, description="synonyms never searched (case-insensitive)")


class NerConfig(_Strict):
    """The transformer tagger and how it runs on executors."""

    steps: Annotated[list[str], AfterValidator(_steps(NER_STEPS))] = Field(
        ["model"],
        description="entity sources, in order: model (the transformer), dictionary (ontology synonyms) or a "
        "'package.module:function' step (documents DataFrame in, entity rows out; docs/layout.md)",
    )
    merge: Literal["first_wins", "union"] = Field(
        "first_wins",
        description="first_wins: a step's span overlapping an earlier step's span of the same class is dropped; "
        "union: all kept (the same span and class once)",
    )
    dictionary: DictionaryConfig = Field(default_factory=DictionaryConfig)

    model: PathStr = Field(
        "pkg://kazu_spark/resources/model", description="model folder (HF layout + labels.txt) or Kazu model pack"
    )
    model_archive: str | None = Field(
        None,
        description="alias of a model archive shipped with spark-submit --archives pack.tar.gz#ALIAS; executors "
        "load the unpacked folder and the driver reads no model (None: ner.model_shipping decides)",
    )
    model_shipping: Literal["auto", "broadcast", "path"] = Field(
        "auto",
        description="how ner.model reaches the executors: broadcast (the driver reads it and broadcasts its files), "
        "path (each executor loads ner.model itself: shared storage, a Volume, the installed package), or auto "
        "(broadcast in classic Spark, path through Spark Connect, which has no broadcast variables)",
    )
    labels: list[str] | None = Field(
        None, description="the head's labels in column order; None = the model folder's labels.txt"
    )
    allow_pickle_weights: bool = Field(
        False, description="load pytorch_model.bin (torch.load weights_only) when there is no model.safetensors"
    )
    decoder: Decoder = Field(
        "sigmoid", description="sigmoid: multi-label BIO; softmax: Kazu argmax BIO; io: IO tagging"
    )
    aggregation: Aggregation = Field(
        "first",
        description="decode words, not sub-tokens, so spans never split a word: a word's probabilities are its "
        "first sub-token's, or the mean or max over its sub-tokens; none: decode sub-tokens (spans may split words)",
    )
    device: Device = Field("auto", description="auto picks cuda when a GPU is visible")
    precision: Precision = Field(
        "auto", description="auto: bf16 on CPUs with AMX/AVX-512-BF16, fp16 on GPU, else fp32; int8: CPU only"
    )
    threshold: float = Field(0.5, gt=0, le=1, description="sigmoid probability for a B/I tag (unused by softmax)")
    class_thresholds: Literal["model"] | dict[str, float] = Field(
        "model",
        description="per-class thresholds: model = the model folder's thresholds.json (tuned on devel by kazu-spark "
        "train thresholds) when it was tuned for this decoder and aggregation; a mapping class -> threshold "
        "replaces it; {} = ner.threshold for every class. A class left out keeps ner.threshold",
    )
    guideline: str | None = Field(
        None,
        description="tag as this training corpus marks entities (JNLPBA, S800-IOB, BioRED, ...), for a model trained "
        "with guideline markers (its guidelines.json; kazu_spark/ner/guidelines.py); null = the blend of all corpora",
    )
    abbreviations: bool = Field(
        True,
        description="a short form a document defines (Schwartz-Hearst) takes its long form's classes at every use "
        "in that document, and loses other classes there (kazu_spark/ner/abbreviations.py)",
    )
    known_names: PathStr | None = Field(
        "pkg://kazu_spark/resources/curations/known_names.tsv",
        description="names the training corpora mark as entities most times they are written (kazu-spark train "
        "names), added where the model found no entity of their class (kazu_spark/ner/known_names.py); null = off",
    )
    window: int = Field(128, ge=16, le=512, description="sub-tokens per window, [CLS]/[SEP] included")
    stride: int = Field(
        32, ge=0, description="sub-tokens shared by consecutive windows; less than ner.window - 2 ([CLS], [SEP])"
    )
    max_batch_tokens: int | None = Field(
        None, gt=0, description="padded tokens per forward pass; None = 4096 on CPU, 65536 on GPU"
    )
    num_threads: int | None = Field(None, gt=0, description="torch threads per worker; None = spark.task.cpus")
    arrow_batch_rows: int = Field(256, gt=0, description="documents tagged per batch in a Python worker")
    partitions: int | None = Field(None, gt=0, description="NER partitions; None = 2 x default parallelism")
    gpu_amount_per_task: float | None = Field(
        None, gt=0, description="GPU share per NER task as a stage resource profile (0.25: 4 tasks per GPU)"
    )
    forward_server: bool = Field(
        False,
        description="the NER tasks of a machine send their forwards to one process per device, which holds the model "
        "and runs them one after another, instead of each task holding the model: one CUDA context for the tasks "
        "that share a GPU (ner.gpu_amount_per_task < 1); kazu_spark/ner/forward_server.py",
    )

    @model_validator(mode="after")
    def _check_stride(self) -> NerConfig:
        """A window holds ``window - 2`` sub-tokens ([CLS], [SEP]); sharing all of them would never advance."""
        if self.stride >= self.window - 2:
            raise ValueError(
                f"ner.stride ({self.stride}) must be smaller than the {self.window - 2} sub-tokens of a window "
                f"(ner.window {self.window} less [CLS] and [SEP])"
            )
        return self

    @model_validator(mode="after")
    def _check_class_thresholds(self) -> NerConfig:
        """Each per-class threshold is a probability, as ``ner.threshold`` is."""
        if isinstance(self.class_thresholds, dict):
            bad = {cls: t for cls, t in self.class_thresholds.items() if not 0 < t <= 1}
            if bad:
                raise ValueError(f"ner.class_thresholds must be in (0, 1]; got {bad}")
        return self


class FuzzyConfig(_Strict):
    """Character n-gram TF-IDF matching for mentions that no dictionary key matches."""

    min_score: float = Field(0.8, gt=0, le=1, description="least cosine similarity of a fuzzy candidate")
    top_k: int = Field(3, gt=0, description="most synonyms kept per mention (those within margin of the best)")
    margin: float = Field(0.02, ge=0, le=1, description="candidates this close to the best are kept, ambiguous")
    max_index_terms: int = Field(
        2_000_000, gt=0, description="an entity class with more distinct synonyms is not fuzzy-matched"
    )


#: the default ``linking.generic_concepts``: per class the catch-all concepts that name no particular
#: thing (the roots of CL, MEDIC and the NCBI Taxonomy and their near-root groupings, and MeSH's
#: "drugs"-like headings); docs/linking_preferences.md says why each is there
GENERIC_CONCEPTS: dict[str, tuple[str, ...]] = {
    "cell_type": ("CL:0000000", "CL:0000003", "CL:0000255", "CL:0000548"),
    "disease": ("MESH:C", "MESH:D004194", "MESH:D013577", "MESH:D009369"),
    "species": ("NCBITaxon:1", "NCBITaxon:131567", "NCBITaxon:2759", "NCBITaxon:33208"),
    "drug": ("MESH:D004364", "MESH:D011506", "MESH:D012996"),
}


#: the default ``linking.model_organisms``: an NCBI Taxonomy genus -> its model organism, the species a bare
#: genus mention names when its document names no species of that genus (docs/linking_preferences.md)
MODEL_ORGANISMS: dict[str, str] = {
    "NCBITaxon:7215": "NCBITaxon:7227",  # Drosophila -> D. melanogaster
    "NCBITaxon:3701": "NCBITaxon:3702",  # Arabidopsis -> A. thaliana
    "NCBITaxon:4930": "NCBITaxon:4932",  # Saccharomyces -> S. cerevisiae
    "NCBITaxon:4895": "NCBITaxon:4896",  # Schizosaccharomyces -> S. pombe
    "NCBITaxon:6237": "NCBITaxon:6239",  # Caenorhabditis -> C. elegans
    "NCBITaxon:7954": "NCBITaxon:7955",  # Danio -> D. rerio
    "NCBITaxon:8353": "NCBITaxon:8355",  # Xenopus -> X. laevis
    "NCBITaxon:10088": "NCBITaxon:10090",  # Mus -> M. musculus
    "NCBITaxon:10114": "NCBITaxon:10116",  # Rattus -> R. norvegicus
    "NCBITaxon:9605": "NCBITaxon:9606",  # Homo -> H. sapiens
    "NCBITaxon:561": "NCBITaxon:562",  # Escherichia -> E. coli
}


class EmbeddingConfig(_Strict):
    """The ``embedding`` step: mentions the string steps missed, matched to synonyms by a synonym encoder
    (:mod:`kazu_spark.linking.embedding_spark`; docs/embedding-linking.md)."""

    model: PathStr | None = Field(
        None,
        description="synonym encoder folder (kazu-spark train linker; pkg://, local, /dbfs or /Volumes paths); "
        "None = the embedding step is off (a no-op, logged)",
    )
    classes: list[str] | None = Field(
        ["disease", "drug"],
        description="entity classes the step links; None = every class. Default diseases and chemicals: its gene "
        "links read arbitrary on the sample (a 2-layer encoder gets nothing from a symbol), docs/linking.md",
    )
    device: Device = Field("auto", description="auto picks cuda when a GPU is visible")
    precision: Precision = Field(
        "auto", description="auto: bf16 on CPUs with AMX/AVX-512-BF16, fp16 on GPU, else fp32; int8: CPU only"
    )
    top_k: int = Field(5, gt=0, description="nearest synonyms kept per mention (those within margin of the best)")
    min_score: float = Field(
        0.875,
        gt=0,
        le=1,
        description="least cosine similarity of a candidate; below it a match is dropped (0.875: devel end-to-end "
        "F1 above the string steps alone; 0.75 links more gold mentions at half the precision, docs/linking.md)",
    )
    margin: float = Field(0.02, ge=0, le=1, description="candidates this close to the best are kept, ambiguous")
    search: Literal["exact", "ivf"] = Field(
        "exact",
        description="exact: every mention scored against every synonym of its class; ivf: against the synonyms "
        "of its ivf_probes nearest k-means lists only (an index the driver builds once per matrix of 20,000 "
        "rows or more, kazu_spark.linking.ivf; docs/embedding-linking.md)",
    )
    ivf_probes: int = Field(
        32, gt=0, description="with search: ivf, the lists (of 4 sqrt(rows)) each mention is scored against"
    )
    batch_size: int | None = Field(
        None, gt=0, description="texts per encoder forward pass; None = 64 on CPU (stays in cache), 256 on GPU"
    )
    num_threads: int | None = Field(None, gt=0, description="torch threads per worker; None = spark.task.cpus")
    matrix_dir: PathStr | None = Field(
        None,
        description="folder the driver writes the fp16 concept matrices to, read once per Python worker; must "
        "be visible to executors on a cluster (/dbfs, /Volumes); None = a folder in the driver's temp dir",
    )
    partition_rows: int = Field(
        1_000_000,
        gt=0,
        description="a class with more synonym rows in ontology_terms than this is not shipped to the workers as "
        "one matrix: its synonyms are scored in blocks by a partitioned join, and a batch that links it runs on "
        "Spark joins, not the pandas engines (docs/embedding-linking.md)",
    )
    block_rows: int = Field(
        200_000,
        gt=0,
        description="synonym texts per block of a partitioned class (a task holds one block: 150 MB of fp16 at "
        "384 dims, plus its float32 copy), each block scoring every missed key of its class",
    )


class DisambiguationConfig(_Strict):
    """Resolving a mention linked to several concepts by its document's context."""

    enabled: bool = Field(True, description="narrow ambiguous links by the document's other links and text")
    margin: float = Field(
        0.05, ge=0, le=1, description="TF-IDF context similarity the best candidate must beat the next by"
    )


class TierConfig(_Strict):
    """Score thresholds of the confidence tiers (ambiguous links are tier ambiguous whatever their score)."""

    high: float = Field(0.85, gt=0, le=1, description="least score of a high-confidence link")
    medium: float = Field(0.65, gt=0, le=1, description="least score of a medium-confidence link; below: low")


class GeneSpeciesConfig(_Strict):
    """Genes of the document's species (:mod:`kazu_spark.linking.species`)."""

    enabled: bool = Field(
        True,
        description="a gene mention keeps the candidates of its document's most mentioned species, or is looked up "
        "again among that species' genes; acts only when gene concepts of several taxa (metadata tax_id) are loaded",
    )
    default_taxon: str = Field(
        "NCBITaxon:9606",
        description="the species of a document that names none, and whose gene mentions spell too few symbols",
    )
    symbol_votes: int = Field(
        2,
        ge=0,
        description="a document naming no species that a gene source covers takes the species whose official gene "
        "symbols its gene mentions spell exactly, case included (mouse Ctr9, Sox2; human CTR9, SOX2), where at "
        "least this many distinct ones are that species' and more than any other's; 0: never, default_taxon. A "
        "document naming several takes, instead of the one it names most, another it names whose symbols it "
        "spells so (human GPNMB, TFE3 in a paper on human tumours that names a mouse model twice), when it spells "
        "fewer than this many of the first one's in no more mentions",
    )
    drop_foreign: bool = Field(
        True,
        description="a gene mention whose candidates are all other species' genes, and for which the lookup among "
        "its document's species finds nothing, keeps only its default_taxon candidates (papers about mice name "
        "human genes; a human paper's 'CIMP' is not the mouse gene Ebp) and is otherwise left unlinked; false "
        "keeps every candidate",
    )
    named_species: bool = Field(
        True,
        description="a gene phrase that directly follows a species mention in its document ('human L-FABP' in a "
        "mouse paper) is read in that species, not the document's, wherever the paper names it (its short form "
        "too); needs the documents' texts",
    )
    gene_classes: list[str] = Field(default_factory=lambda: ["gene"], description="entity classes this applies to")
    species_class: str = Field("species", description="the entity class whose links name the document's species")


class LinkingConfig(_Strict):
    """Ontology sources and matching."""

    enabled: bool = Field(True, description="link entities to ontology concepts")
    ontologies: list[OntologySource] = Field(default_factory=list, description="sources for ontology_terms")
    abbreviations: bool = Field(
        True,
        description="short forms defined in a document link like their long form; an undefined acronym without "
        "links of its own, like the mention of its class there that spells it",
    )
    steps: Annotated[list[str], AfterValidator(_steps(LINKING_STEPS))] = Field(
        list(LINKING_STEPS),
        description="the cascade, in order; a mention gets the links of the first step that finds any: exact, "
        "normalised (both tier by tier), variants (coordinations, adjective forms), embedding (a synonym "
        "encoder; a no-op without linking.embedding.model), fuzzy (TF-IDF), or a 'package.module:function' step "
        "(lookups in, candidate links out; docs/layout.md)",
    )
    fuzzy: FuzzyConfig = Field(default_factory=FuzzyConfig)
    embedding: EmbeddingConfig = Field(default_factory=EmbeddingConfig)
    disambiguation: DisambiguationConfig = Field(default_factory=DisambiguationConfig)
    tiers: TierConfig = Field(default_factory=TierConfig)
    prefer_specific: bool = Field(
        True,
        description="of a mention's candidates keep the most specific: a species over its genus or an is_a parent, "
        "a gene over a pseudogene, anything over a generic concept (linking.preferences, "
        "docs/linking_preferences.md)",
    )
    gene_species: GeneSpeciesConfig = Field(default_factory=GeneSpeciesConfig)
    gene_families: bool = Field(
        True,
        description="a gene family mention (PARs, MMPs) links the members its document names (PAR-1, PAR2, MMP-9), "
        "unless one of its own links is one of them; the gene classes of gene_species (kazu_spark.linking.families)",
    )
    genus_to_species: bool = Field(
        True,
        description="a mention linked to a genus, in a document whose other mentions link exactly one species of "
        "that genus, links that species ('Bdellovibrio' in a B. bacteriovorus paper; linking.genus)",
    )
    model_organisms: dict[str, str] = Field(
        default_factory=lambda: dict(MODEL_ORGANISMS),
        description="genus concept id -> its model organism, linked (strategy model_organism, score 0.7) by a genus "
        "mention whose document names no species of the genus: Drosophila -> D. melanogaster. Needs "
        "genus_to_species; setting it replaces the whole mapping, {} turns it off",
    )
    batch_entities: int = Field(
        50_000,
        ge=0,
        description="up to this many entities are linked on the driver in one pandas pass (linking.batch: the same "
        "rules, a few Spark jobs instead of a cascade of joins; small increments in seconds); 0 = always Spark joins. "
        "Not used with a custom step or the embedding step",
    )
    bulk: Literal["tasks", "joins"] = Field(
        "tasks",
        description="how more than batch_entities entities are linked: 'tasks' runs the same pandas pass in Spark "
        "tasks, on the documents partitioned about bulk_entities entities each, with the terms table shipped once "
        "to every Python worker (each holds it: about 0.6 KB a term row, some 550 MB for a million synonyms); "
        "'joins' runs the cascade as Spark joins over ontology_terms (no table in the workers). Spark Connect, "
        "batch_entities 0, a custom step or the embedding step always use joins",
    )
    bulk_entities: int = Field(
        200_000,
        ge=1,
        description="about this many entities a Spark task of the bulk 'tasks' engine links in one pandas pass: each "
        "pass also pays for the term rows its mentions reach, so larger partitions link faster per entity (a "
        "million mentions on 2 cores: 13,000-14,300 mentions/s at 50,000 a partition, 17,400 at 167,000) and hold "
        "more rows at once in the worker; the partition count is rounded up to a multiple of the task slots, so "
        "every slot has a partition in each wave",
    )
    generic_concepts: dict[str, list[str]] = Field(
        default_factory=lambda: {class_: list(ids) for class_, ids in GENERIC_CONCEPTS.items()},
        description="entity class -> catch-all concepts (cell, Neoplasms, ...): a more specific candidate wins "
        "over them and their links are flagged generic; setting it replaces the whole mapping",
    )

    def unfuzzy_sources(self) -> frozenset[str]:
        """Sources whose synonyms only the dictionary steps match, never the fuzzy step: abbreviated names
        (``abbreviate_binomials``), where a near miss is another species (``M. brunneum``, ``M. brunnea``).

        Example:
            >>> LinkingConfig(ontologies=[OntologySource(name="T", format="obo", entity_class="species",
            ...     path="t.obo", abbreviate_binomials=True)]).unfuzzy_sources()
            frozenset({'T'})
        """
        return frozenset(s.name for s in self.ontologies if s.abbreviate_binomials)

    def curated_sources(self) -> frozenset[str]:
        """Sources whose concepts' ``default_label`` is their most frequent mention in a corpus (``pubtator``
        curations of a train split), not a name an ontology gives them: disambiguation does not take a
        mention equal to it for the concept's own name.

        Example:
            >>> LinkingConfig(ontologies=[OntologySource(name="C", format="pubtator", entity_class="drug",
            ...     path="train.txt", annotation_types=["Chemical"])]).curated_sources()
            frozenset({'C'})
        """
        return frozenset(s.name for s in self.ontologies if s.format == "pubtator")

    def ontology_judged_sources(self) -> frozenset[str]:
        """Curated sources whose disagreements the ontology settles (disambiguation step 5): those of classes
        whose genes' species does not decide instead (``gene_species``; a curation may hold the one rat gene).

        Example:
            >>> curation = dict(format="pubtator", path="train.txt", annotation_types=["T"])
            >>> LinkingConfig(ontologies=[OntologySource(name="D", entity_class="disease", **curation),
            ...     OntologySource(name="G", entity_class="gene", **curation)]).ontology_judged_sources()
            frozenset({'D'})
        """
        decided = set(self.gene_species.gene_classes) if self.gene_species.enabled else set()
        curated = self.curated_sources()
        return frozenset(s.name for s in self.ontologies if s.name in curated and s.entity_class not in decided)


#: the autocast precision of a training run (see :mod:`kazu_spark.training.loop`)
TrainingPrecision = Literal["fp32", "bf16", "auto"]


class TrainingRunConfig(_Strict):
    """The run settings of one training stage; ``kazu-spark train``'s flags of the same names override them."""

    epochs: float = Field(3.0, gt=0, description="passes over the training examples (fractional allowed)")
    lr: float = Field(1e-4, gt=0, description="peak learning rate of AdamW")
    batch_size: int = Field(32, gt=0, description="examples per step")
    seed: int = Field(13, description="seeds sampling, shuffling and initialisation")
    warmup_ratio: float = Field(
        0.06, ge=0, lt=1, description="share of the run over which the rate warms up; then it decays linearly to 0"
    )
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay (none on biases and LayerNorm)")
    num_threads: int = Field(2, gt=0, description="torch CPU threads")
    precision: TrainingPrecision = Field(
        "fp32",
        description="autocast precision: fp32, bf16 (CPU/CUDA) or auto (bf16 on CUDA and on CPUs with native bf16, "
        "AMX or AVX-512 BF16; else fp32: emulated bf16 is far slower)",
    )
    max_steps: int | None = Field(None, gt=0, description="stop after this many steps; None = epochs decide")
    time_budget_s: float | None = Field(
        None, gt=0, description="stop, fully annealed, after this many seconds (not reproducible step for step)"
    )
    checkpoint_every: int = Field(500, gt=0, description="steps between resumable checkpoints (with a folder)")


class LinkerRunConfig(TrainingRunConfig):
    """``train linker``'s run settings: a training run's, plus the synonym encoder's shape and its training pairs."""

    epochs: float = Field(1.0, gt=0, description="passes over the training pairs (fractional allowed)")
    batch_size: int = Field(128, gt=0, description="pairs per step, each of another concept (in-batch negatives)")
    precision: TrainingPrecision = Field(
        "auto", description="autocast precision: fp32, bf16 (CPU/CUDA) or auto (bf16 where it runs natively)"
    )
    layers: int = Field(2, gt=0, le=6, description="encoder layers kept from the base MiniLM (speed: docs/linking.md)")
    max_length: int = Field(25, gt=2, description="sub-tokens per synonym or mention, [CLS]/[SEP] included")
    pairs_per_concept: int = Field(4, gt=0, description="(synonym, synonym) pairs drawn per concept and epoch")
    class_pairs: int | None = Field(
        40_000,
        gt=0,
        description="synonym pairs per entity class and epoch at most: a larger class (genes, ~350k) is subsampled "
        "anew each epoch so it does not crowd diseases and chemicals out of a short run; None = all",
    )
    scale: float = Field(20.0, gt=0, description="inverse temperature of the in-batch contrastive loss")
    corpora_root: PathStr = Field(
        "../shared/data/linking",
        description="folder of <corpus>/train.txt PubTator files adding (mention, synonym) pairs "
        "(devel.txt: only the accuracy table)",
    )


class TrainingConfig(_Strict):
    """Teacher training, distillation, the encoder's MLM pretraining and the synonym encoder (``kazu-spark train``,
    docs/distillation.md): each stage's run settings."""

    teacher: TrainingRunConfig = Field(
        default_factory=TrainingRunConfig, description="`train teacher` and the teacher stage of `train all`"
    )
    student: TrainingRunConfig = Field(
        default_factory=lambda: TrainingRunConfig(lr=3e-4),
        description="`train distill` and the student stage of `train all` (a higher rate: it starts from scratch)",
    )
    mlm: TrainingRunConfig = Field(
        default_factory=lambda: TrainingRunConfig(epochs=1.0, lr=5e-5),
        description="`train mlm` and the pretraining stage of `train all --mlm`: the encoder's continued MLM "
        "pretraining on in-domain text (one pass, a rate that does not wash out what it knew)",
    )
    linker: LinkerRunConfig = Field(
        default_factory=LinkerRunConfig, description="`train linker`: the synonym encoder of embedding linking"
    )


def _on_off(value: object) -> object:
    """YAML 1.1 reads a bare ``on``/``off`` (e.g. ``--set progress=off``) as a boolean: take it back."""
    return {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value


class Config(_Strict):
    """The whole job configuration."""

    input: InputConfig = Field(default_factory=InputConfig)
    lakehouse: PathStr = Field(
        "./lakehouse",
        description="folder (or URI) holding the Delta tables, or a catalog schema (catalog.schema: Unity "
        "Catalog, the metastore) whose tables they are",
    )
    incremental: bool = Field(True, description="skip documents whose content hash is already stored")
    progress: Annotated[Literal["auto", "on", "off"], BeforeValidator(_on_off)] = Field(
        "auto", description="live NER progress bar on stderr; auto: only when stderr is a terminal"
    )
    spark: SparkConfig = Field(default_factory=SparkConfig)
    worker_memory_limit_mb: float | None = Field(
        None,
        gt=0,
        description="Python worker RSS ceiling checked between batches in every Python stage (docs/memory.md); "
        "None = off. The former ner.worker_memory_limit_mb sets it when it is unset",
    )
    ner: NerConfig = Field(default_factory=NerConfig)
    linking: LinkingConfig = Field(default_factory=LinkingConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)

    @model_validator(mode="before")
    @classmethod
    def _moved_memory_limit(cls, data: Any) -> Any:
        """``ner.worker_memory_limit_mb``, the key from when the guard covered NER only, sets the top-level
        ``worker_memory_limit_mb`` when that is unset (logged: the new key is the one to write)."""
        ner = data.get("ner") if isinstance(data, dict) else None
        if not (isinstance(ner, dict) and "worker_memory_limit_mb" in ner):
            return data
        log.warning("ner.worker_memory_limit_mb is now worker_memory_limit_mb (it covers every Python stage)")
        ner = dict(ner)
        old = ner.pop("worker_memory_limit_mb")
        return {**data, "ner": ner, "worker_memory_limit_mb": data.get("worker_memory_limit_mb") or old}

    def fingerprint(self) -> str:
        """sha256 of the resolved configuration, recorded in ``runs.config_hash``."""
        return hashlib.sha256(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()

    def redacted(self) -> dict[str, Any]:
        """The configuration as plain data for logs, with secret-looking Spark settings masked.

        Example:
            >>> cfg = load_config(overrides={"spark.conf": {"spark.hadoop.fs.s3a.secret.key": "abc"}})
            >>> cfg.redacted()["spark"]["conf"]
            {'spark.hadoop.fs.s3a.secret.key': '***'}
        """
        data = self.model_dump(mode="json")
        data["spark"]["conf"] = {k: "***" if SECRET_KEY.search(k) else v for k, v in data["spark"]["conf"].items()}
        return data


def _read_yaml(path: str) -> dict[str, Any]:

    real = Path(resolve_path(path))
    try:
        data = yaml.safe_load(real.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"configuration file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"configuration file {path} must hold a mapping at the top level")
    return data


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = data
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"invalid configuration: {dotted}: {part} is not a section")
        node = child
    node[leaf] = value


def _quoted(text: str) -> bool:
    """Whether ``text`` is one YAML quoted scalar, ``'...'`` or ``"..."`` (its string is what was meant)."""
    return len(text) >= 2 and text[0] in "'\"" and text[-1] == text[0]


def yaml_value(key: str, text: str) -> Any:
    """An override's value (``--set key=text``) read as YAML: ``0.4`` a float, ``[a, b]`` a list, ``'x'`` a string.

    A value YAML would silently make into another string than the one written is refused, as is one it
    cannot read at all: a `` #`` comment cut off, lines folded into one, ``*.jsonl`` (an alias). Quote it
    (``key='/data/lake #prod'``) and YAML keeps it as written. Spaces around the value are dropped.

    Example:
        >>> yaml_value("ner.threshold", "0.4"), yaml_value("linking.steps", "[exact, fuzzy]")
        (0.4, ['exact', 'fuzzy'])
        >>> yaml_value("lakehouse", "'/data/lake #prod'")
        '/data/lake #prod'
        >>> yaml_value("lakehouse", "/data/lake #prod")
        Traceback (most recent call last):
        ...
        kazu_spark.errors.ConfigError: invalid configuration: lakehouse: YAML reads '/data/lake #prod' as '/data/lake'; quote it to keep it as written: lakehouse='/data/lake #prod'
    """  # noqa: E501
    written = text.strip()
    hint = f"quote it to keep it as written: {key}='{written.replace(chr(39), chr(39) * 2)}'"
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = re.sub(r"\s+", " ", getattr(exc, "problem", None) or type(exc).__name__)
        message = f"invalid configuration: {key}: {written!r} is not a YAML value ({problem}); {hint}"
        raise ConfigError(message) from None
    if isinstance(value, str) and value != written and not _quoted(written):
        raise ConfigError(f"invalid configuration: {key}: YAML reads {written!r} as {value!r}; {hint}")
    return value


def parse_overrides(pairs: Sequence[str]) -> dict[str, str]:
    """``["key.path=value", ...]`` (CLI ``--set`` flags, notebook widget lines) as a dict of overrides.

    Example:
        >>> parse_overrides(["ner.threshold=0.4", " linking.enabled = false"])
        {'ner.threshold': '0.4', 'linking.enabled': ' false'}
    """
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"expected key.path=value, got {pair!r}")
        out[key.strip()] = value
    return out


def load_config(
    conf_file: str | None = None, overrides: dict[str, Any] | None = None, *, flags: dict[str, Any] | None = None
) -> Config:
    """Load the default config, layer ``conf_file``, then ``flags``, then ``overrides`` on top, and validate.

    Both map dotted keys to values (None: not given). A ``flags`` value is taken as it is: a path given
    as ``--lakehouse`` stays that string, whatever YAML would make of it. A string in ``overrides``
    (``--set``, notebook overrides) is read as YAML by :func:`yaml_value`; any other value is taken as it is.
    """
    data = _read_yaml(DEFAULT_CONFIG)
    if conf_file:
        data = _deep_merge(data, _read_yaml(conf_file))
    for dotted, value in (flags or {}).items():
        if value is not None:
            _set_dotted(data, dotted, value)
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(data, dotted, yaml_value(dotted, value) if isinstance(value, str) else value)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            + (
                ""
                if isinstance(err.get("ctx", {}).get("error"), CredentialsInPathError)
                else f" (got {err.get('input')!r})"
            )
            for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None
