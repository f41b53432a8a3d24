"""The client commands of `elasticthought` (login, datafiles, jobs, ...): the CLI on the SDK.

Each module is one command group with a `main(argv) -> int` that `elasticthought.cli` dispatches
to; `runner` holds what they share (options, the client, errors to exit codes).
"""
