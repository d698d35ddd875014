import monitor


def test_all_is_exported_and_sorted() -> None:
    assert sorted(monitor.__all__) == monitor.__all__
    for name in monitor.__all__:
        assert hasattr(monitor, name), name
    public = {n for n in vars(monitor) if not n.startswith("_")} - {
        "errors",
        "schemas",
        "settings",
        "text",
    }
    assert public <= set(monitor.__all__) | {
        "bus",
        "cli",
        "embedded",
        "logs",
        "metrics",
        "redis_client",
    }
