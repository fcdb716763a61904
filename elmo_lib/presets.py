"""Pretrained biLMs by name, in KerasHub's ``from_preset`` idiom.

Introduced in lesson 04 (the lessons' biLM, shipped under ``models/``) and lesson 07 (the published
AllenNLP models).
"""

from __future__ import annotations

# GitHub "owner/name" of this repository. The one place it is written down: the Colab badge and the
# Colab install cell of every lesson (checked by tests/test_notebooks.py) and the download of the
# shipped biLM when elmo_lib was pip-installed without the repository all use this value.
REPOSITORY = "elmo-keras-lessons/elmo-keras-lessons"
REPOSITORY_URL = f"https://github.com/{REPOSITORY}"
