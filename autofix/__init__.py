"""autofix: fix known OpenMMLab training crashes by rewriting the files that cause them."""

__version__ = "0.1.0"
