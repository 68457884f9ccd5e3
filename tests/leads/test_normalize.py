"""Normalisation of emails and Japanese company names (property-based)."""

import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from leads.normalize import normalize_company, normalize_email, normalize_key, normalize_name

# Company-ish names: kana, kanji, Latin letters and digits (what real company names are made of).
KANA = st.characters(min_codepoint=0x30A1, max_codepoint=0x30F6)
HIRAGANA = st.characters(min_codepoint=0x3041, max_codepoint=0x3093)
KANJI = st.sampled_from("山田中央電機製作所東京大阪情報技術日本商事物産工業建設不動産")
LATIN = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
NAME_CORE = st.text(st.one_of(KANA, HIRAGANA, KANJI, LATIN), min_size=1, max_size=20)

JAPANESE_PREFIXES = [
    "株式会社",
    "(株)",
    "（株）",
    "㈱",
    "有限会社",
    "(有)",
    "㈲",
    "合同会社",
    "一般社団法人",
    "合資会社",
]
JAPANESE_SUFFIXES = ["株式会社", "(株)", "（株）", "㈱", "有限会社", "(有)", "合同会社", "合名会社"]
LATIN_SUFFIXES = [
    " Inc.",
    " Inc",
    ", Inc.",
    " Co., Ltd.",
    " Co.,Ltd.",
    " CO., LTD.",
    " Corporation",
    " Corp.",
    " Ltd.",
    " Limited",
    " LLC",
    " K.K.",
    " G.K.",
    " Company",
    " Co. Ltd",
]
SPACES = st.sampled_from([" ", "\u3000", "  ", ""])


def to_fullwidth(text: str) -> str:
    """ASCII → full-width forms (what Japanese IMEs produce)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in text)


def to_halfwidth_katakana(text: str) -> str:
    """Katakana → half-width katakana (legacy systems and CSV exports)."""
    table = {}
    for code in range(0xFF61, 0xFFA0):
        full = unicodedata.normalize("NFKC", chr(code))
        if len(full) == 1:
            table.setdefault(full, chr(code))
    out = []
    for c in text:
        decomposed = unicodedata.normalize("NFD", c)
        base, marks = decomposed[0], decomposed[1:]
        if base in table:
            out.append(table[base] + "".join({"\u3099": "\uff9e", "\u309a": "\uff9f"}.get(m, m) for m in marks))
        else:
            out.append(c)
    return "".join(out)


class TestCompanyExamples:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("株式会社サンプル", "サンプル"),
            ("サンプル株式会社", "サンプル"),
            ("㈱サンプル", "サンプル"),
            ("（株）サンプル", "サンプル"),
            ("サンプル(株)", "サンプル"),
            ("ｻﾝﾌﾟﾙ株式会社", "サンプル"),
            ("有限会社 山田商店", "山田商店"),
            ("合同会社ＤＭＭ", "dmm"),
            ("ＡＢＣ　Ｃｏ．，Ｌｔｄ．", "abc"),
            ("ABC Co., Ltd.", "abc"),
            ("Acme Inc.", "acme"),
            ("ACME Corporation", "acme"),
            ("NTT DATA, Inc.", "nttdata"),
            ("Sony Group Corporation", "sonygroup"),
            ("一般社団法人 日本マーケティング協会", "日本マーケティング協会"),
        ],
    )
    def test_known_forms(self, raw, expected):
        assert normalize_company(raw) == expected

    def test_short_words_are_not_mistaken_for_suffixes(self):
        assert normalize_company("Taco") == "taco"
        assert normalize_company("Inc") == "inc"
        assert normalize_company("Costco") == "costco"

    def test_the_long_vowel_mark_is_part_of_the_name(self):
        assert normalize_company("データー株式会社") == "データー"

    def test_different_companies_stay_different(self):
        assert normalize_company("株式会社東京電機") != normalize_company("株式会社大阪電機")


class TestCompanyProperties:
    @settings(deadline=None)  # timing is not the property under test (the CI machine may be busy)
    @given(st.text(max_size=60))
    @example("株株式会社式会社")
    @example("e-\u0301")
    def test_idempotent(self, raw):
        once = normalize_company(raw)
        assert normalize_company(once) == once

    @settings(deadline=None)  # timing is not the property under test (the CI machine may be busy)
    @given(NAME_CORE, st.sampled_from(JAPANESE_PREFIXES), SPACES)
    def test_japanese_legal_prefix_is_removed(self, core, prefix, space):
        assert normalize_company(prefix + space + core) == normalize_company(core)

    @settings(deadline=None)  # timing is not the property under test (the CI machine may be busy)
    @given(NAME_CORE, st.sampled_from(JAPANESE_SUFFIXES), SPACES)
    def test_japanese_legal_suffix_is_removed(self, core, suffix, space):
        assert normalize_company(core + space + suffix) == normalize_company(core)

    @settings(deadline=None)  # timing is not the property under test (the CI machine may be busy)
    @given(NAME_CORE, st.sampled_from(LATIN_SUFFIXES))
    def test_latin_legal_suffix_is_removed(self, core, suffix):
        assert normalize_company(core + suffix) == normalize_company(core)

    @settings(deadline=None)  # timing is not the property under test (the CI machine may be busy)
    @given(NAME_CORE)
    def test_full_width_and_half_width_fold_together(self, core):
        assert normalize_company(to_fullwidth(core)) == normalize_company(core)
        assert normalize_company(to_halfwidth_katakana(core)) == normalize_company(core)

    @settings(deadline=None)  # timing is not the property under test (the CI machine may be busy)
    @given(NAME_CORE, SPACES)
    def test_spaces_do_not_matter(self, core, space):
        spaced = space.join(core)
        assert normalize_company(spaced) == normalize_company(core)

    @settings(deadline=None)  # timing is not the property under test (the CI machine may be busy)
    @given(NAME_CORE)
    def test_case_does_not_matter(self, core):
        assert normalize_company(core.upper()) == normalize_company(core.lower())

    @settings(deadline=None)  # timing is not the property under test (the CI machine may be busy)
    @given(st.text(max_size=300))
    def test_result_fits_the_column(self, raw):
        assert len(normalize_company(raw)) <= 200


class TestEmailAndNames:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("  Taro.Yamada@Example.CO.JP ", "taro.yamada@example.co.jp"),
            ("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", "taro@example.jp"),
            ("\u3000hanako@example.jp\u3000", "hanako@example.jp"),
        ],
    )
    def test_email_is_trimmed_lowered_and_nfkc(self, raw, expected):
        assert normalize_email(raw) == expected

    @settings(deadline=None)  # timing is not the property under test (the CI machine may be busy)
    @given(st.text(max_size=40))
    def test_email_normalisation_is_idempotent(self, raw):
        once = normalize_email(raw)
        assert normalize_email(once) == once

    @settings(deadline=None)  # timing is not the property under test (the CI machine may be busy)
    @given(st.emails())
    def test_email_is_stable_under_width_and_case(self, email):
        assert normalize_email(to_fullwidth(email.upper())) == normalize_email(email)

    def test_person_names_ignore_spaces_and_width(self):
        assert normalize_name("山田　太郎") == normalize_name("山田太郎") == normalize_name(" 山田 太郎 ")
        assert normalize_name("ﾔﾏﾀﾞ ﾀﾛｳ") == normalize_name("ヤマダタロウ")

    @settings(deadline=None)  # timing is not the property under test (the CI machine may be busy)
    @given(st.text(max_size=60))
    def test_name_normalisation_is_idempotent(self, raw):
        once = normalize_name(raw)
        assert normalize_name(once) == once

    def test_mapping_keys(self):
        assert normalize_key("Form Submitted") == normalize_key("form_submitted") == normalize_key("FORM-SUBMITTED")


class TestEventTimes:
    """Event times from clients: impossible values and out-of-range offsets are refused with a message."""

    @pytest.mark.parametrize("raw", ["2026-11-02T10:60:00", "2026-13-01T00:00:00", "yesterday"])
    def test_impossible_times_are_a_validation_error(self, raw):
        from django.core.exceptions import ValidationError

        from leads.validation import clean_occurred_at

        with pytest.raises(ValidationError):
            clean_occurred_at(raw)

    def test_offsets_are_kept_as_the_same_instant_in_utc(self):
        import datetime as dt

        from leads.validation import clean_occurred_at

        value = clean_occurred_at("2026-11-02T10:00:00+09:00")
        assert value == dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)
        # An offset PostgreSQL would refuse (beyond ±15:59) is still the same instant, stored in UTC.
        assert clean_occurred_at("2026-11-02T20:04:00+16:04") == dt.datetime(2026, 11, 2, 4, 0, tzinfo=dt.UTC)
