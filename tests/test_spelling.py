"""Typos in questions are read as the guide's words; real words the guide lacks are left alone."""

from coach.spelling import correct_question

VOCAB = sorted(
    {"apprenticeship", "salary", "certification", "career", "experience", "requirements", "technicians",
     "technical", "union", "hospital", "education"}
)  # fmt: skip


def knows(word: str) -> bool:
    return word in VOCAB


def test_misspelt_words_become_the_guide_word() -> None:
    assert correct_question("how long is the apprentiship?", VOCAB, knows) == "how long is the apprenticeship?"
    assert correct_question("Whats the salery", VOCAB, knows) == "Whats the salary"
    assert correct_question("Carrer path?", VOCAB, knows) == "Career path?"
    assert correct_question("what experiance do i need", VOCAB, knows) == "what experience do i need"


def test_real_words_and_names_the_guide_lacks_stay_unknown() -> None:
    # "unions" is English: a topic the guide may not cover, not a typo of "union".
    for q in ["is there a labor unions?", "does Walgreens pay for it?", "what about nurses?", "pay in Canada?"]:
        assert correct_question(q, VOCAB, knows) == q


def test_short_words_and_ties_are_not_guessed() -> None:
    assert correct_question("is the pya good?", VOCAB, knows) == "is the pya good?"
    # Two guide words equally near: no guess.
    vocab = sorted({"carter", "carver"})
    assert correct_question("carxer", vocab, lambda w: w in vocab) == "carxer"


def test_misspelt_function_words_are_read_as_meant() -> None:
    # Left as they are, "shuold" and "whihc" would look like topics the guide never covers.
    assert correct_question("What certifcation shuold I get?", VOCAB, knows) == "What certification should I get?"
    assert correct_question("whihc education is best?", VOCAB, knows) == "which education is best?"
