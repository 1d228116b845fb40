"""The terms the improvement analysis counts in subjects, and the loops it finds in unit paths."""

from __future__ import annotations

import pytest

from casemgmt.domain.requests import ERASED
from casemgmt.readmodels.analysis_case import first_loop
from casemgmt.readmodels.subject_terms import subject_terms


def test_a_subject_with_or_without_its_marks_gives_the_same_terms() -> None:
    marked = subject_terms("Chưa nhận được lương hưu của bố tôi")
    assert marked == subject_terms("chua nhan duoc luong huu cua bo toi")
    assert marked == {"luong huu", "bo"}


def test_d_with_a_stroke_is_folded_to_d() -> None:
    assert subject_terms("Đăng ký khám chữa bệnh") == subject_terms("dang ky kham chua benh")
    assert "dang ky" in subject_terms("ĐĂNG KÝ")


@pytest.mark.parametrize(
    ("subject", "terms"),
    [
        ("Hỏi về mức đóng bảo hiểm xã hội tự nguyện", {"muc dong", "bao hiem xa hoi", "tu nguyen"}),
        ("Thẻ bảo hiểm y tế bị sai ngày sinh", {"the bao hiem y te", "sai", "ngay sinh"}),
        ("Chưa nhận được sổ BHXH", {"so bhxh"}),
        ("Trợ cấp thất nghiệp chưa được chi trả", {"tro cap that nghiep", "chi tra"}),
    ],
)
def test_words_of_several_syllables_count_as_one_term(subject: str, terms: set[str]) -> None:
    assert subject_terms(subject) == terms


def test_stop_words_of_vietnamese_and_english_are_left_out() -> None:
    assert subject_terms("Xin hỏi tôi có được không") == set()
    assert subject_terms("Question about the pension of my mother") == {
        "question",
        "pension",
        "mother",
    }


def test_numbers_and_tokens_holding_digits_are_left_out() -> None:
    terms = subject_terms("Sổ BHXH số 0123456789 cấp ngày 12/3/2024, CCCD079912345678")
    assert terms == {"so bhxh", "cap"}


def test_an_erased_or_empty_subject_has_no_terms() -> None:
    assert subject_terms(ERASED) == set()
    assert subject_terms("") == set()
    assert subject_terms(None) == set()


@pytest.mark.parametrize(
    ("units", "loop"),
    [
        (["hanoi", "haiphong", "hanoi"], ["hanoi", "haiphong", "hanoi"]),
        ([None, "hanoi", "hue"], None),
        (["danang", "hanoi", "hue", "hanoi", "danang"], ["hanoi", "hue", "hanoi"]),
        (["danang", "hue", "danang", "hue"], ["danang", "hue", "danang"]),
        ([None], None),
    ],
)
def test_the_first_loop_is_the_first_return_to_a_unit_left_before(
    units: list[str | None], loop: list[str] | None
) -> None:
    assert first_loop(units) == loop
