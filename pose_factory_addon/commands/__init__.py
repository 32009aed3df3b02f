"""One module per ``pose-factory`` verb; each exposes ``add_parser(subparsers)``.

A verb's handler is set with ``parser.set_defaults(func=...)``; it returns the exit status
and raises :class:`~pose_factory_addon.core.errors.UsageError` or a ``PoseFactoryError`` on failure.
"""
