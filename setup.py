"""Maps the repository's top-level folders onto one import name, ``sciffusion``.

``common/`` becomes ``sciffusion.common``, ``domains/`` ``sciffusion.domains`` and so on, so that
generic names such as ``common`` or ``cli`` never land in site-packages. Metadata lives in
pyproject.toml; only the package layout is computed here.
"""
from pathlib import Path

from setuptools import find_namespace_packages, setup

ROOT_PACKAGES = ("common", "domains", "pipelines", "cli")
HERE = Path(__file__).parent

package_dir = {"sciffusion": "sciffusion_root"}
packages = ["sciffusion"]
for top in ROOT_PACKAGES:
    # namespace discovery also maps folders without __init__.py (bundled data such as
    # domains/docking/data), so package_data below finds them; caches are left out
    subs = find_namespace_packages(str(HERE / top), exclude=["*__pycache__*"])
    for sub in [""] + [f".{p}" for p in subs]:
        name = f"sciffusion.{top}{sub}"
        packages.append(name)
        package_dir[name] = f"{top}{sub}".replace(".", "/")

setup(
    packages=packages,
    package_dir=package_dir,
    package_data={"": ["*.gz", "*.pdb", "*.sdf", "*.mol2", "*.smi", "*.csv", "*.mp4", "*.md", "*.txt", "*.json", "*.pt", "*.yaml"]},
    include_package_data=True,
)
