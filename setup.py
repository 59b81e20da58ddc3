"""The one thing pyproject.toml cannot say: the files brandmon ships with stay in `data/` (the product's layout,
where tests, docs and the demo name them), and a wheel carries them as the package `brandmon_data`.

`packages.find` in pyproject.toml cannot list a package that lives in a folder of another name, so the package list
is built here; everything else (metadata, dependencies, package data) is in pyproject.toml. `pipeline.bundled`
finds the files in either place.
"""

from setuptools import find_namespace_packages, setup

CODE = ["crawlers", "pipeline", "models", "dashboard", "flows", "brandmon", "demo"]
# sub-folders of data/ that hold shipped files: listed as packages so setuptools copies them as such
DATA = [
    "brandmon_data",
    "brandmon_data.demo_web",
    "brandmon_data.demo_web.sites",
    "brandmon_data.demo_web.social",
    "brandmon_data.training",
]

setup(
    packages=find_namespace_packages(include=[p + suffix for p in CODE for suffix in ("", ".*")]) + DATA,
    package_dir={"brandmon_data": "data"},
)
