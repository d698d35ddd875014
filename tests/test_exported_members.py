import types

import monitor


def test_all_is_exported_and_sorted() -> None:
    assert sorted(monitor.__all__) == monitor.__all__
    for name in monitor.__all__:
        assert hasattr(monitor, name), name
    public = {
        n
        for n, v in vars(monitor).items()
        if not n.startswith("_") and not isinstance(v, types.ModuleType)
    }
    assert public == set(monitor.__all__)
