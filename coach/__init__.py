"""Career Coach: extractive, cited answers to questions about career guides.

Data flow: parse -> chunk -> embed -> index -> retrieve -> answer -> UI/CLI/audit.
"""

__version__ = "0.1.0"
