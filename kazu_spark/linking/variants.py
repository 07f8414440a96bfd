"""Variant lookup keys for mentions no dictionary key matched: coordinations, adjective forms, word order.

A mention that misses both the exact and the normalised lookup is often a regular rewrite away from a
synonym. ``variant_keys`` lists those rewrites as normalised keys (``normalise`` of the entity class),
most faithful first, so linking can try them against the synonyms' normalised keys before it falls
back to fuzzy matching:

1. **coordination** -- ``breast and ovarian cancer``, ``brain, breast, and prostate cancer``,
   ``breast and/or ovarian cancer``, ``breast/ovarian cancer``: each conjunct with the shared head of
   the last one (``breast cancer``, ``ovarian cancer``), first conjunct first; a conjunct that already
   has several words keeps its own (``colon cancer and leukemia``);
2. **parentheses dropped** -- ``glucose-6-phosphate dehydrogenase (G6PD) deficiency``; a number or charge in
   parentheses right after a letter is first kept as written without them (``histamine H(3)-receptor`` ->
   ``histamine H3-receptor``, ``Ca(2+)``);
3. **"A of (the) B" reordered** -- ``deficiency of C2`` -> ``c2 deficiency``, ``cancer of the breast``
   -> ``breast cancer``;
4. **adjective to noun** on the last word -- ``hypertensive`` -> ``hypertension``, ``epileptic`` ->
   ``epilepsy``, ``diabetic`` -> ``diabetes``, ``psychotic`` -> ``psychosis``, ``anemic`` ->
   ``anemia``, ``nephrotoxic`` -> ``nephrotoxicity``, ``dyskinetic`` -> ``dyskinesia``, ``edematous`` ->
   ``edema``; and ``-ical`` -> ``-ic`` on every word (``neurological disease`` -> ``neurologic disease``);
5. **leading qualifier dropped** -- ``familial gastric cancer`` -> ``gastric cancer`` (``familial``,
   ``hereditary``, ``sporadic`` ... in ``_QUALIFIERS``); for diseases also a course or extent
   (``metastatic breast cancer``, ``posttransplant lymphoproliferative disorder``: ``_DISEASE_QUALIFIERS``),
   a stage (``stage II colorectal cancer``) and a cause or marker before the name (``ribavirin-induced
   hemolytic anemia``, ``estrogen receptor-positive breast carcinomas``: ``_DISEASE_CAUSES``). MeSH files
   these under the disease itself, and the rewrite is only tried on a miss; for chemicals a drug's salt
   (``metformin hydrochloride`` -> ``metformin``, ``heparin sodium``: ``SALTS``), which MeSH files under the
   drug, and the other way round a salt added where MeSH files the drug under its salt (``tiapride`` ->
   ``tiapride hydrochloride``: ``SALT_FORMS``);
6. **one name of a neoplasm for another** (diseases) -- ``prostate carcinoma`` -> ``prostate neoplasm``,
   ``liver tumors`` -> ``liver cancer``: MeSH files an organ's carcinomas, tumours and cancers under one
   ``<organ> Neoplasms`` concept, whose synonyms rarely list every head noun;
7. **strain or authority dropped** (species) -- ``HIV-1 strain NL4-3`` -> ``HIV-1``,
   ``B. bacteriovorus HD100`` -> ``B. bacteriovorus``, ``Spodoptera litura Fabricius`` -> ``Spodoptera
   litura``: what follows ``strain``/``isolate``, or a (possibly abbreviated) binomial; and a common name
   after its strain or model (``nude mice``, ``Wistar rats``): the last word;
8. **a receptor named by its ligand's symbol** (genes) -- ``FGF receptor 4`` -> ``FGFR4``, ``D2 receptor`` ->
   ``D2R``, ``H3-receptor`` -> ``H3R``, ``IL-6 receptor`` -> ``IL-6R``: how gene nomenclatures write them, where
   the word before ``receptor`` has a capital or a digit (``glucocorticoid receptor`` is a name already);
9. **the gene itself, not its product or state** (genes) -- ``Tau protein`` -> ``Tau``, ``mTOR gene``,
   ``Glucagon mRNA``, ``p-mTOR``, ``pAKT``, ``phospho-S6`` -> ``S6``: the head noun ``protein``, ``gene``,
   ``mRNA`` or ``transcript`` after a one-word name, and a phosphorylation prefix. BioRED links ``pAKT`` to AKT1;
   its spans leave the head noun out, but the model's spans on printed text often keep it, and those went to
   fuzzy matches (``Tau protein`` -> YWHAQ, *14-3-3 protein tau*) or to nothing. Not ``kinase``: ``AMP kinase``,
   ``S6 kinase`` and ``ERK kinase`` are kinases *of* AMP, S6 and ERK, not those. A GTPase's bound nucleotide is a
   state too: ``Rheb-GTP`` -> ``Rheb`` (BioRED links ``Rab6a-GTP`` to RAB6A).

10. **a pathogen's disease is its infection** (diseases) -- ``adenovirus disease`` -> ``adenovirus infection``,
    ``meningococcal disease`` -> ``meningococcal infection``: MeSH files them as ``<pathogen> Infections`` and
    lists no "disease" synonym; only after a word that ends like a pathogen's name (``_PATHOGEN_ENDINGS``);
11. **an organ's adjective for the organ** (diseases) -- ``myocardial hypertrophy`` -> ``cardiac hypertrophy``,
    ``renal insufficiency`` -> ``kidney insufficiency``, ``hepatic steatosis`` -> ``liver steatosis``: MeSH's
    synonyms name an organ one way or the other, one word swapped at a time (``_ORGAN_WORDS``).
12. **an organ's damage is its disease** (diseases) -- ``renal involvement`` -> ``renal disease`` (and by rule 11
    ``kidney disease``), ``muscle damage`` -> ``muscle disorder``, ``cerebral lesions`` -> ``brain disease``,
    ``cognitive dysfunction`` -> ``cognitive disorder``: an organ's or a faculty's word and a noun that names no
    pathology of its own (``_VAGUE_HEADS``), which MeSH files under the organ's ``Diseases``; two-word mentions
    only, and only where the key names a synonym, so ``DNA damage`` finds nothing;
13. **a microRNA by its gene's symbol** (genes) -- ``miRNA-193a``, ``hsa-miR-21-5p``, ``microRNA-483-3p`` ->
    ``mir-193a``, ``mir-21``, ``mir-483``: NCBI Gene lists a microRNA gene as ``MIR21`` with a few aliases, while
    papers name it with a species prefix, the word spelt out, or the mature strand (``-3p``, ``-5p``).
14. **the gene of an isoform or splice variant** (genes) -- ``TCF-4J`` -> ``TCF-4``, ``OCT4A`` -> ``OCT4``,
    ``CD44v6`` -> ``CD44``: one capital letter or ``v`` and a number after a symbol that ends in a number; not ``R``
    or ``L`` (``IL-2R``, ``CD40L`` are a receptor and a ligand, other genes).
    NCBI Gene has one record per gene, and BioRED links an isoform's mention to it.
15. **a cellular oncogene in capitals** (genes) -- ``c-MYC`` -> ``c-myc``, then ``MYC``; ``c-KIT`` -> ``KIT``:
    NCBI Gene lists ``c-Myc`` and ``c-Jun`` as aliases, but the capitals' key (``CMYC``) names nothing. The alias
    comes first, the bare symbol (the ``c-``, cellular against a retrovirus's ``v-``, dropped) second: in a mouse
    paper ``MYC`` is also an alias of mouse Nol3, which the species step would take.

Rules 2-6, 8 and 10-12 are tried on the mention and on the coordination's conjuncts, rules 9 and 13-15 on the
mention. The keys are matching keys, never display text, and only ever used for misses, so a rule may
over-generate: a key that names no synonym costs one failed join row.

Example:
    >>> variant_keys("breast and ovarian cancers", "disease")[:4]
    ['breast cancer', 'breast neoplasm', 'breast tumor', 'ovarian cancer']
    >>> variant_keys("hypertensive", "disease")
    ['hypertension']
"""

from __future__ import annotations

import re

from kazu_spark.linking.normalise import names_something, normalise

#: separators of conjuncts: ", and", "and/or", "or", "/", ","
_CONJUNCTION = re.compile(r"\s*,?\s+(?:and\s*/\s*or|and|or|&)\s+|\s*/\s*|\s*,\s*", re.IGNORECASE)
_TRAILING_NUMBER = re.compile(r"(?P<stem>.*?)\d+")
_PARENTHESES = re.compile(r"\s*[(\[][^()\[\]]*[)\]]")
#: a number or charge in parentheses right after a letter: ``H(3)``, ``alpha(2)``, ``Ca(2+)``
_SUBSCRIPT = re.compile(r"(?<=[A-Za-z])\((\d+[+-]?)\)")
#: a phosphorylation prefix of a gene name (rule 9): ``p-mTOR``, ``phospho-S6``, ``phosphorylated ERK``, ``pAKT``;
#: ``phospho`` only as a word of its own (``phospholipase C`` is a name)
_PHOSPHO = re.compile(r"^(?:(?i:phospho(?:rylated)?)[\s-]+|p-)(?P<name>\S.*)$|^p(?P<symbol>[A-Z][A-Za-z0-9-]+)$")
#: a GTPase with its bound nucleotide (rule 9): ``Rheb-GTP``, ``Ras GDP``
_BOUND_NUCLEOTIDE = re.compile(r"^(?P<gene>\S+?)[\s-]G[TD]P$")
#: an isoform or splice variant of a gene named by a symbol ending in a number (rule 14): TCF-4J, OCT4A, CD44v6;
#: not R or L, a receptor's or a ligand's letter (IL-2R, CD40L: other genes than IL-2 and CD40)
_ISOFORM = re.compile(r"^(?P<gene>[A-Za-z][A-Za-z0-9]*-?\d+)(?:[A-KM-QS-Z]|v\d+)$")
#: a cellular oncogene (rule 15): ``c-MYC``
_CELLULAR = re.compile(r"^c-(?P<gene>[A-Za-z][A-Za-z0-9]*)$")
#: what a gene's name is followed by for its product (rule 9), lower-cased
_GENE_HEADS = frozenset({"protein", "proteins", "gene", "genes", "mrna", "mrnas", "transcript", "transcripts"})
#: a microRNA (rule 13): a species prefix, the word in any spelling, its number, a mature strand
_MICRO_RNA = re.compile(r"^(?:[a-z]{3}-)?(?i:mirna|microrna|mir)[\s-]?(?P<name>\d+[a-z]?(?:-\d)?)(?:-[35]p)?$")
#: "<symbol> receptor(s) [number]" (rule 8): the symbol has a capital or a digit
_SYMBOL_RECEPTOR = re.compile(r"(?P<symbol>\S*[A-Z0-9]\S*?)[\s-]+(?i:receptors?)(?:[\s-]*(?P<number>\d+[A-Za-z]?))?")
_OF = re.compile(r"^(?P<head>.+?) of (?:the )?(?P<tail>.+)$")
#: leading words whose removal leaves the core of a disease name
_QUALIFIERS = frozenset(
    {"familial", "hereditary", "inherited", "sporadic", "isolated", "congenital", "idiopathic", "primary", "human"}
)
#: leading words of a disease name that give its course, extent or setting, not another disease
_DISEASE_QUALIFIERS = frozenset(
    {"metastatic", "advanced", "severe", "progressive", "fatal", "bilateral", "unilateral", "posttransplant"}
)
#: "<cause or marker> induced|associated|related|positive|negative <disease>" (the hyphen is gone in a key)
_DISEASE_CAUSES = re.compile(r"^(?:\S+ ){1,3}?(?:induced|associated|related|positive|negative) (?=\S)")
#: the counter-ions MeSH names a drug's descriptor with ("Tiapride Hydrochloride", "Methacholine Chloride",
#: "Vecuronium Bromide"), the most frequent last word of MeSH 2015's descriptors first: a one-word drug mention that
#: misses is also looked up with one after it; only on a miss, so "sodium" stays Sodium, never Sodium Chloride
SALT_FORMS = (
    *("chloride", "acetate", "sulfate", "bromide", "phosphate", "iodide", "tartrate", "sodium", "nitrate"),
    *("hydrochloride", "citrate", "potassium", "maleate", "hydrobromide", "dihydrochloride", "mesylate"),
    *("fumarate", "succinate", "besylate"),
)
#: the counter-ion of a drug's salt, last word of a chemical name ("lidocaine hydrochloride"), that a mention drops:
#: not these, whose salts or esters are compounds of their own (sodium chloride, pregnenolone sulfate)
SALTS = frozenset(SALT_FORMS) - {"chloride", "acetate", "sulfate", "bromide", "phosphate", "iodide", "nitrate"}
#: what is left of "cancer-associated diseases" or "stage III disease" names no disease of its own
_BARE_HEADS = frozenset({"disease", "disorder", "condition", "syndrome", "illness", "lesion"})
#: a stage or grade before the name, and a two-word setting ("post-transplant" is "post transplant" in a key)
_DISEASE_PREFIX = re.compile(r"^(?:(?:stage|grade) \S+|post transplant) (?=\S)")
#: the neoplasm head nouns MeSH's names use (rule 6): what another head noun is swapped for
_NEOPLASM_NAMES = ("neoplasm", "cancer", "tumor")
#: head nouns that name a neoplasm (rule 6), the last word of a normalised disease key
_NEOPLASM_HEADS = (*_NEOPLASM_NAMES, "carcinoma", "malignancy", "neoplasia", "tumour")
#: the last letters of a pathogen's name before "disease" (rule 10): a virus, or a coccus's adjective
_PATHOGEN_ENDINGS = ("virus", "coccal")
#: an organ's adjective -> the words MeSH's disease synonyms name the organ with (rule 11)
_ORGAN_WORDS = {
    "myocardial": ("cardiac", "heart"),
    "cardiac": ("heart",),
    "renal": ("kidney",),
    "hepatic": ("liver",),
    "pulmonary": ("lung",),
    "cerebral": ("brain",),
    "gastric": ("stomach",),
    "ocular": ("eye",),
    "cutaneous": ("skin",),
}
#: what follows an organ's word for a pathology it does not name (rule 12), a normalised key's last word
_VAGUE_HEADS = frozenset({"damage", "lesion", "dysfunction", "abnormality", "impairment", "involvement"})
#: a strain or isolate named after a species ("HIV-1 strain NL4-3")
_STRAIN = re.compile(r"\s+(?:strains?|str\.|isolates?|substr\.)\s+.*$", re.IGNORECASE)
#: a binomial (genus, or its initial, and a lower-case epithet) followed by more words
_BINOMIAL_HEAD = re.compile(r"((?:[A-Z][a-z]+|[A-Z]\.?)\s+[a-z][a-z-]{2,})\s+\S.*")
#: adjective endings -> noun endings, tried in order on the last word (longest endings first)
_ADJECTIVE_TO_NOUN = (
    ("tensive", ("tension",)),
    ("ptic", ("psy",)),  # epileptic -> epilepsy
    ("otic", ("osis",)),  # psychotic, sclerotic, necrotic -> -osis
    ("etic", ("etes", "esis", "esia")),  # diabetic -> diabetes, dyskinetic -> dyskinesia
    ("atous", ("a",)),  # edematous -> edema, granulomatous -> granuloma
    ("ical", ("ic", "y")),  # neurological -> neurologic
    ("ic", ("ia", "y", "icity", "ism", "e", "")),  # anemic, neuropathic, nephrotoxic, ...
    ("ive", ("ion",)),  # convulsive -> convulsion
    ("ed", ("ion",)),  # depressed -> depression
)


def _noun_forms(word: str) -> list[str]:
    """Nouns an adjective ``word`` may come from, by its ending (``_ADJECTIVE_TO_NOUN``)."""
    for ending, replacements in _ADJECTIVE_TO_NOUN:
        if word.endswith(ending) and len(word) > len(ending) + 2:
            return [word[: -len(ending)] + r for r in replacements]
    return []


def _numbered(parts: list[str]) -> list[str]:
    """A coordination of numbers (:func:`conjuncts`): each bare number after the stem of the last part with letters
    (that part without its trailing number); ``[]`` when that part ends in no number.

    Example:
        >>> _numbered(["MMP-1", "-2", "9"]), _numbered(["FGF receptors 2", "4"]), _numbered(["TIMP", "2"])
        (['MMP-1', 'MMP-2', 'MMP-9'], ['FGF receptors 2', 'FGF receptors 4'], [])
    """
    found, stem = [], None
    for part in parts:
        if names_something(part):
            numbered = _TRAILING_NUMBER.fullmatch(part)
            stem = numbered["stem"] if numbered else None
            found.append(part)
        elif stem is None:
            return []
        else:
            found.append(stem + part.strip(" -"))
    return found


def conjuncts(text: str) -> list[str]:
    """The parts of a coordinated mention, each with the shared head of the last part; ``[]`` when
    ``text`` is no coordination, or one with a part of one letter, which names nothing (``Δ/Δ``, a genotype: a lone
    ``Δ`` would be looked up as ``delta``, an alias of four mouse genes; ``TCF-4J and K``).

    Example:
        >>> conjuncts("brain, breast, and prostate cancer")
        ['brain cancer', 'breast cancer', 'prostate cancer']
        >>> conjuncts("colon cancer and leukemia"), conjuncts("colon or lung cancer"), conjuncts("breast cancer")
        (['colon cancer', 'leukemia'], ['colon cancer', 'lung cancer'], [])
        >>> conjuncts("tuberous sclerosis complex 1 and 2"), conjuncts("caspase-3/7"), conjuncts("1 and 2")
        (['tuberous sclerosis complex 1', 'tuberous sclerosis complex 2'], ['caspase-3', 'caspase-7'], [])
        >>> conjuncts("Δ/Δ"), conjuncts("TCF-4J and K")
        ([], [])
    """
    parts = [p for p in _CONJUNCTION.split(text.strip()) if p]
    if len(parts) < 2 or any(len(p.strip()) == 1 and names_something(p) for p in parts):
        return []
    if not names_something(parts[-1]):  # "caspase-3/7", "MMP-2, -9": a number takes the stem of the named part before
        return _numbered(parts)
    last = parts[-1].split()
    head = " ".join(last[1:])
    ends = last[-1].lower().rstrip("s")  # "cancer" and "cancers" end alike
    shares = [bool(head) and p.split()[-1].lower().rstrip("s") != ends for p in parts[:-1]]
    return [f"{p} {head}" if share else p for p, share in zip(parts[:-1], shares, strict=True)] + [parts[-1]]


def _rewrites(text: str, entity_class: str) -> list[str]:
    """Keys of one phrase under rules 2-6, 8 and 10-12 (see the module doc), the phrase's own key first."""
    key = normalise(_PARENTHESES.sub("", text), entity_class)
    keys = [normalise(text, entity_class), normalise(_SUBSCRIPT.sub(r"\1", text), entity_class), key]
    if of := _OF.match(key):
        keys.append(normalise(f"{of['tail']} {of['head']}", entity_class))
    words = key.split()
    if words:
        keys.append(" ".join(w[:-2] if w.endswith("ical") else w for w in words))
        keys += [normalise(" ".join([*words[:-1], noun]), entity_class) for noun in _noun_forms(words[-1])]
    disease = entity_class == "disease"
    if disease and len(words) > 1 and words[-1] in _NEOPLASM_HEADS:
        keys += [" ".join([*words[:-1], head]) for head in _NEOPLASM_NAMES if head != words[-1]]
    if disease and len(words) > 1 and words[-1] in ("disease", "illness") and words[-2].endswith(_PATHOGEN_ENDINGS):
        keys.append(" ".join([*words[:-1], "infection"]))
    if disease and len(words) == 2 and words[-1] in _VAGUE_HEADS:
        keys += [k for head in ("disease", "disorder") for k in _organ_keys(f"{words[0]} {head}")]
    if disease and len(words) > 1:
        keys += _organ_keys(key)
    rest = ""
    if len(words) > 1 and (words[0] in _QUALIFIERS or (disease and words[0] in _DISEASE_QUALIFIERS)):
        rest = " ".join(words[1:])
    elif disease and (prefix := _DISEASE_CAUSES.match(key) or _DISEASE_PREFIX.match(key)):
        rest = key[prefix.end() :]
    elif entity_class == "drug" and len(words) > 1 and words[-1] in SALTS:
        rest = " ".join(words[:-1])
    if entity_class == "drug" and len(words) == 1 and words[0] not in SALT_FORMS:
        keys += [f"{key} {salt}" for salt in SALT_FORMS]
    if rest and not (disease and rest in _BARE_HEADS):
        keys += _rewrites(rest, entity_class)
    if entity_class == "gene" and (receptor := _SYMBOL_RECEPTOR.fullmatch(text.strip())):
        keys.append(normalise(f"{receptor['symbol']}R{receptor['number'] or ''}", entity_class))
    return keys


def _organ_keys(key: str) -> list[str]:
    """``key`` and its keys with one organ adjective named by the organ (rule 11).

    Example:
        >>> _organ_keys("myocardial hypertrophy")
        ['myocardial hypertrophy', 'cardiac hypertrophy', 'heart hypertrophy']
    """
    words = key.split()
    swaps = [
        " ".join([*words[:i], organ, *words[i + 1 :]]) for i, w in enumerate(words) for organ in _ORGAN_WORDS.get(w, ())
    ]
    return [key, *swaps]


def gene_cores(text: str) -> list[str]:
    """The gene a mention names by its product, form, phosphorylation or bound nucleotide (rule 9), by an isoform
    (rule 14) or with the cellular oncogene's ``c-`` (rule 15): ``[]`` when it names none.

    Example:
        >>> gene_cores("Tau protein"), gene_cores("p-mTOR"), gene_cores("pAKT"), gene_cores("phospho-Akt protein")
        (['Tau'], ['mTOR'], ['AKT'], ['Akt protein', 'Akt'])
        >>> gene_cores("TCF-4J"), gene_cores("CD44v6"), gene_cores("BRCA1"), gene_cores("HLA-B")
        (['TCF-4'], ['CD44'], [], [])
        >>> gene_cores("Rheb-GTP"), gene_cores("c-MYC"), gene_cores("GTP"), gene_cores("c-Jun N-terminal kinase")
        (['Rheb'], ['c-myc', 'MYC'], [], [])
        >>> gene_cores("AMP kinase"), gene_cores("heat shock protein"), gene_cores("p53"), gene_cores("P-selectin")
        ([], [], [], [])
    """
    cores, text = [], text.strip()
    if phospho := _PHOSPHO.match(text):
        text = phospho["name"] or phospho["symbol"]
        cores.append(text)
    words = text.split()
    if len(words) == 2 and words[1].lower() in _GENE_HEADS:
        cores.append(words[0])
    if cellular := _CELLULAR.match(text):
        cores += [text.lower(), cellular["gene"]]  # the alias as NCBI Gene writes it (c-Myc) before the bare symbol
    for form in (_ISOFORM, _BOUND_NUCLEOTIDE):
        if named := form.match(text):
            cores.append(named["gene"])
    return cores


def _species_heads(text: str) -> list[str]:
    """The species name a strain or an authority follows (rule 7).

    Example:
        >>> _species_heads("HIV-1 strain NL4-3"), _species_heads("B. bacteriovorus HD100")
        (['HIV-1'], ['B. bacteriovorus'])
        >>> _species_heads("Wistar rats")
        ['rats']
    """
    heads = [_STRAIN.sub("", text)]
    if binomial := _BINOMIAL_HEAD.fullmatch(text.strip()):
        heads.append(binomial[1])
    elif (words := text.split()) and len(words) > 1 and words[-1].isalpha() and words[-1].islower():
        heads.append(words[-1])  # a common name after its strain or model: "nude mice", "Wistar rats"
    return [head for head in heads if head != text]


def variant_keys(text: str, entity_class: str) -> list[str]:
    """Normalised lookup keys of the variants of ``text`` (module doc), best first, without duplicates,
    blanks or ``normalise(text)`` itself.

    Example:
        >>> variant_keys("Deficiency of C2", "disease"), variant_keys("G6PD (glucose) deficiency", "disease")
        (['c2 deficiency'], ['g6pd deficiency'])
    """
    own = normalise(text, entity_class)
    keys = [k for part in conjuncts(text) for k in _rewrites(part, entity_class)] + _rewrites(text, entity_class)
    if entity_class == "species":
        keys += [normalise(head, entity_class) for head in _species_heads(text)]
    if entity_class == "gene":
        keys += [k for core in gene_cores(text) for k in _rewrites(core, entity_class)]
        if micro_rna := _MICRO_RNA.match(text.strip()):
            keys.append(normalise(f"mir-{micro_rna['name']}", entity_class))
    return [k for k in dict.fromkeys(keys) if k and k != own]
