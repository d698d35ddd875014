import json
from collections import Counter
from pathlib import Path

import pytest

from tests.fixtures import EVERYDAY, LOVELORN, write_tsv
from trainer.data import (
    Example,
    SourceSpec,
    data_hash,
    load_source,
    parse_label_map,
    split_stratified,
)
from trainer.errors import DataError


def _examples(n_pos: int, n_neg: int) -> list[Example]:
    return [Example(f"正{i}", 1) for i in range(n_pos)] + [
        Example(f"负{i}", 0) for i in range(n_neg)
    ]


def test_split_is_stratified_and_deterministic() -> None:
    examples = _examples(300, 700)
    a = split_stratified(examples, seed=7)
    b = split_stratified(list(reversed(examples)), seed=7)
    assert a == b  # input order does not matter, the seed does
    assert a.sizes() == {"train": 800, "validation": 100, "test": 100}
    for part in (a.train, a.validation, a.test):
        share = Counter(e.label for e in part)[1] / len(part)
        assert share == pytest.approx(0.3, abs=0.01)
    texts = [e.text for e in a.train + a.validation + a.test]
    assert len(texts) == len(set(texts)) == 1000
    assert split_stratified(examples, seed=8).test != a.test


def test_refusals() -> None:
    with pytest.raises(DataError, match="single class"):
        split_stratified(_examples(50, 0), seed=1)
    with pytest.raises(DataError, match="too few rows"):
        split_stratified(_examples(5, 50), seed=1)


def test_load_tsv_headerless_with_label_map(tmp_path: Path) -> None:
    path = tmp_path / "oce.tsv"
    path.write_text(
        "1\t分手了<br/>好难过[泪]\tsadness\n2\t今天真开心\thappiness\n3\t气死了\tanger\n"
        "4\t分手了 好难过[泪]\tsadness\n5\t \thappiness\n6\t今天真开心\tsadness\n",
        encoding="utf-8",
    )
    spec = SourceSpec(
        path,
        columns=("id", "text", "label"),
        id_column="id",
        label_map=parse_label_map("sadness=1,happiness=0"),
    )
    examples, report = load_source(spec)
    # row 4 duplicates row 1 after cleaning; row 6 conflicts with row 2 so both go; row 5 is empty
    assert [(e.text, e.label, e.id) for e in examples] == [("分手了 好难过[泪]", 1, "1")]
    assert (
        report.rows,
        report.unmapped_label,
        report.empty,
        report.duplicate,
        report.conflicting,
    ) == (6, 1, 1, 2, 1)


def test_load_csv_and_jsonl(tmp_path: Path) -> None:
    csv_path = tmp_path / "d.csv"
    csv_path.write_text('content,y\n"我们分手了，再见",1\n"晚饭吃面",0\n', encoding="utf-8")
    examples, _ = load_source(SourceSpec(csv_path, text_column="content", label_column="y"))
    assert [(e.text, e.label) for e in examples] == [("我们分手了，再见", 1), ("晚饭吃面", 0)]
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text(
        "\n".join(
            json.dumps({"text": t, "label": y}, ensure_ascii=False)
            for t, y in [("失恋了", True), ("上班", False)]
        )
    )
    examples, _ = load_source(SourceSpec(jsonl))
    assert [(e.text, e.label) for e in examples] == [("失恋了", 1), ("上班", 0)]


@pytest.mark.parametrize(
    "content, spec_kw, message",
    [
        (b"txt\tlabel\n\xe5\x88\x86\t1\n", {}, "missing column"),
        (b"text\tlabel\n\xff\xfe\xfa\t1\n", {}, "not UTF-8"),
        (b'{"text": "a", "label": 1}\n{broken\n', {"format": "jsonl"}, "not a JSON line"),
        (b"text\tlabel\nabc\tsadness\n", {}, "not 0/1"),
        (b"", {}, "holds no rows"),
    ],
)
def test_bad_files_get_one_clear_error(
    tmp_path: Path, content: bytes, spec_kw: dict, message: str
) -> None:
    path = tmp_path / "bad.tsv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        load_source(SourceSpec(path, **spec_kw))


def test_missing_file_and_bad_label_map(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_source(SourceSpec(tmp_path / "nope.tsv"))
    with pytest.raises(DataError, match="not NAME=0"):
        parse_label_map("sadness:1")
    with pytest.raises(DataError, match="at least one label to 1"):
        parse_label_map("a=1,b=1")


def test_data_hash_ignores_order(tmp_path: Path) -> None:
    rows = [(t, "1") for t in LOVELORN] + [(t, "0") for t in EVERYDAY]
    a, _ = load_source(SourceSpec(write_tsv(tmp_path / "a.tsv", rows)))
    b, _ = load_source(SourceSpec(write_tsv(tmp_path / "b.tsv", rows[::-1])))
    assert data_hash(a) == data_hash(b)
    assert data_hash(a) != data_hash(a[1:])
