"""Schwartz–Hearst abbreviation detection: classic definitions, reversed ones, offsets, and non-definitions."""

from __future__ import annotations

import random
import re

import pandas as pd
import pytest
from conftest import sample_rows

from kazu_spark.linking.abbreviations import best_long_form, find_abbreviations, spelled_short_forms, word_uses


@pytest.mark.parametrize(
    ("text", "short", "long"),
    [
        # examples in the style of Schwartz & Hearst (PSB 2003)
        ("Heat shock transcription factor (HSF) binds DNA", "HSF", "Heat shock transcription factor"),
        ("activation of protein kinase C (PKC) was seen", "PKC", "protein kinase C"),
        ("we trained a hidden Markov model (HMM) on it", "HMM", "hidden Markov model"),
        ("the alpha-galactosidase (alpha-Gal) epitope", "alpha-Gal", "alpha-galactosidase"),
        # biomedical text: hyphens, digits, two-word short forms, definitions cut at ';', ',' or ':'
        (
            "patients with chronic obstructive pulmonary disease (COPD) died",
            "COPD",
            "chronic obstructive pulmonary disease",
        ),
        ("levels of tumor necrosis factor alpha (TNF-alpha) rose", "TNF-alpha", "tumor necrosis factor alpha"),
        ("a 5-fluorouracil (5-FU) regimen", "5-FU", "5-fluorouracil"),
        ("Escherichia coli (E. coli) strains", "E. coli", "Escherichia coli"),
        ("acute myeloid leukemia (AML; n = 5)", "AML", "acute myeloid leukemia"),
        ("and non-small cell lung cancer (NSCLC, stage III)", "NSCLC", "non-small cell lung cancer"),
        ("the effect of phenobarbital (PB: 15 mg per rat) on", "PB", "phenobarbital"),
        # the long form in parentheses, the short form before them
        ("COPD (chronic obstructive pulmonary disease) is common", "COPD", "chronic obstructive pulmonary disease"),
    ],
)
def test_definitions_found_with_exact_offsets(text: str, short: str, long: str) -> None:
    [found] = find_abbreviations(text)
    assert (found.short, found.long) == (short, long)
    assert text[found.short_start : found.short_start + len(short)] == short
    assert text[found.long_start : found.long_start + len(long)] == long


def test_the_long_form_is_the_shortest_that_explains_the_short_form() -> None:
    [found] = find_abbreviations("Expression of the transcription factor nuclear factor kappa B (NF-kB) rose.")
    assert found.long == "nuclear factor kappa B"


def test_clause_boundaries_limit_the_long_form() -> None:
    # "Parkinson disease" lies in the previous sentence: the long form may not reach across ". "
    assert find_abbreviations("Parkinson disease. Patients (PD) were seen") == []


@pytest.mark.parametrize(
    "text",
    [
        "significant (p < 0.05) in all",
        "as shown (Fig. 1) and (Table 2)",
        "in twelve mice (n = 12)",
        "published in 2003 (2003) twice",
        "cells were (a) washed",
        "in the (see above) case",
        "the TNF gene (TNF) is expressed",  # a long form may not contain its short form
        "in mice (BALB) housed",  # no letters of the short form in order
        "treated with aspirin(ASA) daily",  # no space before the parenthesis
    ],
)
def test_non_definitions_are_not_abbreviations(text: str) -> None:
    assert find_abbreviations(text) == []


def test_several_definitions_in_one_document_in_order() -> None:
    text = "Multiple sclerosis (MS) and magnetic resonance imaging (MRI): MS lesions on MRI."
    assert [(a.short, a.long) for a in find_abbreviations(text)] == [
        ("MS", "Multiple sclerosis"),
        ("MRI", "magnetic resonance imaging"),
    ]


def test_best_long_form_needs_the_first_letter_at_a_word_start() -> None:
    assert best_long_form("HSF", "the heat shock transcription factor") == "heat shock transcription factor"
    assert best_long_form("AB", "xab") is None  # 'a' occurs, but not at the start of a word


def test_a_short_form_without_letters_or_digits_leaves_the_whole_candidate() -> None:
    """Nothing to spell, so no initials to prefer: Schwartz-Hearst's answer, the whole text, and no error."""
    assert best_long_form("--", "abc") == "abc"


@pytest.mark.parametrize(
    ("text", "long"),
    [
        ("and Thyroid Transcription Factor-1 (TTF-1).", "Thyroid Transcription Factor-1"),
        ("called attenuated adenomatous polyposis coli (AAPC).", "attenuated adenomatous polyposis coli"),
        ("the heat shock transcription factor (HSF) binds", "heat shock transcription factor"),
        ("pathways that involve phosphoinositide 3-kinase (PI3K).", "phosphoinositide 3-kinase"),
    ],
)
def test_a_long_form_whose_initials_spell_the_short_form_wins_over_inner_letters(text: str, long: str) -> None:
    """The shortest suffix would read TTF-1's second T inside ``Transcription`` and AAPC's first A inside
    ``adenomatous``; the words' initials spell the whole short form one word earlier. HSF keeps its shortest
    suffix, which skips a word (``transcription``) but takes no inner letter; PI3K keeps its own, whose ``I`` is
    inside ``phosphoinositide``: initials would skip that word and reach back to ``pathways``."""
    assert [a.long for a in find_abbreviations(text)] == [long]


def test_a_long_document_gives_each_paragraph_s_definitions_at_their_offsets() -> None:
    """Paragraphs joined by blank lines (a clause break) give each paragraph's own definitions, shifted by its
    offset: the clause before a parenthesis is found the same way in a 190,000-character text as in an abstract."""
    paragraphs = [f"{r['title']} {r['abstract']}" for r in sample_rows(120)]
    expected, offset = [], 0
    for paragraph in paragraphs:
        expected += [a._replace(short_start=a.short_start + offset, long_start=a.long_start + offset)
                     for a in find_abbreviations(paragraph)]  # fmt: skip
        offset += len(paragraph) + 2
    assert find_abbreviations("\n\n".join(paragraphs)) == expected and len(expected) > 50


def _spelled(*mentions: tuple[str, str, str]) -> dict[tuple[str, str], str]:
    rows = pd.DataFrame(mentions, columns=["doc_id", "mention", "entity_class"])
    return {(r.doc_id, r.mention): r.long for r in spelled_short_forms(rows).itertuples()}


def test_an_undefined_acronym_is_spelled_by_a_mention_of_its_class_in_its_document() -> None:
    found = _spelled(
        ("d1", "overactive bladder", "disease"),
        ("d1", "OAB", "disease"),
        ("d1", "EDDs", "disease"),  # a plural acronym
        ("d1", "excited delirium deaths", "disease"),
        ("d1", "PB", "drug"),  # "phenobarbital" is no mention of d1
        ("d2", "Phenobarbital", "drug"),
        ("d2", "OAB", "gene"),  # another class than "overactive bladder"
        ("d2", "overactive bladder", "disease"),
        ("d3", "Tp53", "gene"),  # not an acronym: lower-case letters
        ("d3", "tumor protein 53", "gene"),
        ("d4", "PDGF", "gene"),  # neither is its expansion: a variant of it, and a name of something more
        ("d4", "PDGFRbeta", "gene"),
        ("d4", "platelet-derived growth factor receptor beta", "gene"),
    )
    assert found == {("d1", "OAB"): "overactive bladder", ("d1", "EDDs"): "excited delirium deaths"}


def test_the_long_form_whose_initials_spell_the_acronym_wins_whatever_the_row_order() -> None:
    mentions = [("d", "SLE", "disease"), ("d", "status epilepticus", "disease")]
    mentions.append(("d", "systemic lupus erythematosus", "disease"))
    assert _spelled(*mentions) == {("d", "SLE"): "systemic lupus erythematosus"}
    assert _spelled(*reversed(mentions)) == {("d", "SLE"): "systemic lupus erythematosus"}


def test_word_uses_finds_what_the_whole_word_pattern_finds() -> None:
    """``word_uses`` replaced a pattern compiled per short form; on random texts both find the same spans."""
    rng = random.Random(1)
    alphabet = "aAs-_ .1(é"
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        word = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4)))
        plural, joiners, start = rng.random() < 0.5, rng.choice(["", "-"]), rng.randint(0, 3)
        stem = word[:-1] if plural and word.endswith("s") and len(word) > 2 else word
        edge = f"[\\w{re.escape(joiners)}]"
        pattern = re.compile(f"(?<!{edge}){re.escape(stem)}{'s?' if plural else ''}(?!{edge})")
        expected = [m.span() for m in pattern.finditer(text, start)]
        assert list(word_uses(text, word, start, joiners=joiners, plural=plural)) == expected, (text, word)
