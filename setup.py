"""The package list, which pyproject.toml cannot state: every ``mtl_music*`` package, plus
``mtl_music.conf`` and its config-group folders — the repository's top-level ``conf/``, mapped
there by ``package-dir`` in pyproject.toml, whose ``package-data`` ships the YAML files.
Everything else is in pyproject.toml."""

from setuptools import find_namespace_packages, setup

CONF_PACKAGES = ["mtl_music.conf", *(f"mtl_music.conf.{name}" for name in find_namespace_packages(where="conf"))]

setup(packages=[*find_namespace_packages(include=["mtl_music*"]), *CONF_PACKAGES])
