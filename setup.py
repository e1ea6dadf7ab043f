"""Package discovery, the one part of the build that pyproject.toml cannot declare.

The repository's profiles/ folder is installed as the package `appliance.profiles` (mapped by
`package-dir` in pyproject.toml), its data-only subfolders as namespace packages under it: a
find directive in pyproject.toml cannot add them to what it finds, and a hand-kept list of
packages would miss each new one.
"""

from setuptools import find_namespace_packages, find_packages, setup

CODE = ["appliance", "appliance.*", "stubs", "stubs.*", "conformance", "conformance.*"]
DATA = ["appliance.profiles"] + [
    f"appliance.profiles.{name}" for name in find_namespace_packages("profiles", exclude=["*__pycache__*"])
]

setup(packages=find_packages(include=CODE) + DATA)
