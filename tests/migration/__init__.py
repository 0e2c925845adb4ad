"""The proof of ``autofix migrate`` against the official ports (migration notes §3, §4).

``pairs`` pairs each mmdet 2.28.2 config with its 3.3.0 port; ``projection`` reduces a resolved
config to the keys that must match; ``lr_curves`` simulates learning-rate schedules; ``freeze``
writes the frozen fixtures (``tests/fixtures/migration``) that the corpus tests compare against.
"""
