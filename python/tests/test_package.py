"""The package itself: every public name documented, type stubs beside the extension."""

from pathlib import Path

import vdrt


def test_every_public_name_and_member_has_a_docstring():
    missing = []
    for name in vdrt.__all__:
        obj = getattr(vdrt, name)
        if not (obj.__doc__ or "").strip():
            missing.append(name)
        if isinstance(obj, type) and not issubclass(obj, BaseException):
            for attr, member in vars(obj).items():
                if attr.startswith("_") or attr in ("__init__", "__next__"):
                    continue
                if not (getattr(member, "__doc__", None) or "").strip():
                    missing.append(f"{name}.{attr}")
    assert not missing, missing


def test_type_stubs_ship_with_the_package():
    stub = Path(vdrt.__file__).with_name("_vdrt.pyi")
    assert stub.is_file()
    text = stub.read_text()
    for name in vdrt.__all__:
        assert name in text, name
    assert "def run(self, output_names: Sequence[str] | None" in text
    assert Path(vdrt.__file__).with_name("py.typed").is_file()
