from avbridge.speech.text import chunk, normalize


def test_numbers_currency_percent_time_ordinals_years():
    text = normalize("Dr. Smith paid $5.20 for 3 apples on the 21st of May 1999 at 3:05, that is 50% off!")
    assert text == ("doctor Smith paid five dollars and twenty cents for three apples on the twenty-first of "
                    "May nineteen ninety-nine at three oh five, that is fifty percent off!")


def test_large_numbers_have_no_commas_that_would_become_pauses():
    assert normalize("1,234,567 coins") == ("one million two hundred and thirty-four thousand five hundred "
                                            "and sixty-seven coins")
    assert normalize("2.5 swords & 1 shield") == "two point five swords and one shield"


def test_typographic_punctuation_and_control_characters():
    assert normalize("\u201cHi\u201d \u2014 she said\u2026\x00\x07") == '"Hi", she said...'


def test_chunks_split_sentences_and_shorten_the_first_chunk():
    text = ("When the sun rises over the eastern hills, the villagers wake, gather their tools, and walk "
            "slowly toward the fields where the long day waits for them. Then they rest.")
    chunks = chunk(text)
    assert chunks[0] == "When the sun rises over the eastern hills,"
    assert chunks[-1] == "Then they rest."
    assert " ".join(chunks) == text


def test_long_text_without_punctuation_is_cut_at_spaces():
    text = " ".join(["word"] * 200)
    chunks = chunk(text, max_chars=160)
    assert all(len(c) <= 160 for c in chunks)
    assert " ".join(chunks) == text


def test_nothing_speakable():
    assert chunk(normalize("... !!! ???")) == []
    assert chunk(normalize("   ")) == []
