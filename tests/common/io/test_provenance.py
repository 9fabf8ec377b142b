"""package_versions: installed versions as installed, missing ones named as missing."""
import importlib.metadata

from sciffusion.common.io.provenance import NOT_INSTALLED, package_versions


def test_installed_and_missing_packages():
    got = package_versions(["torch", "numpy", "no-such-package-xyz"])
    assert got["torch"] == importlib.metadata.version("torch")
    assert got["numpy"] == importlib.metadata.version("numpy")
    assert got["no-such-package-xyz"] == NOT_INSTALLED
    assert list(got) == ["torch", "numpy", "no-such-package-xyz"]
