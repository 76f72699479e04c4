"""What a person reads: terminal tables, Markdown and HTML reports, tidy frames, plots and files.

Every function here reads result records (plain dicts), so saved JSON files can be reported on
again without re-running anything.
"""
