"""The `elasticthought` command: one entry point, subcommands dispatched to their owners.

Each subcommand's module is imported only when it runs, so `elasticthought train` does not pay for
aiohttp and `elasticthought up` does not pay for torch.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from shared import parent_death

# subcommand -> (module, function taking argv and returning an exit code, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "up": ("elasticthought.up", "main", "run all four services in one process on embedded backends"),
    "service": ("elasticthought.service", "main", "run one service on the production backends"),
    "admin": ("elasticthought.admin", "main", "create tenants and users, revoke tokens (offline, on the store)"),
    "train": ("services.worker.engines.cli", "train_main", "train a net from a Caffe solver prototxt"),
    "test": ("services.worker.engines.cli", "test_main", "score a trained net on its test phase"),
    "time": ("services.worker.engines.cli", "time_main", "time forward/backward passes of a net"),
    # the client commands, on the SDK (elasticthought.client) against a running server
    "login": ("elasticthought.commands.login", "main", "check a token against a server and remember both"),
    "whoami": ("elasticthought.commands.tenancy", "whoami_main", "who the configured token belongs to"),
    "status": ("elasticthought.commands.cluster", "status_main", "whether the server is ready"),
    "datafiles": ("elasticthought.commands.datafiles", "main", "upload (with progress), fetch, list, show, delete "
                  "archives"),
    "datasets": ("elasticthought.commands.datasets", "main", "build datasets from datafiles; list, show, delete"),
    "solvers": ("elasticthought.commands.solvers", "main", "create solvers from prototxt files; list, show"),
    "jobs": ("elasticthought.commands.jobs", "main", "submit, list, show, cancel, wait; logs -f; metrics"),
    "snapshots": ("elasticthought.commands.snapshots", "main", "list and download a job's snapshots"),
    "queue": ("elasticthought.commands.cluster", "queue_main", "the tenant's queued jobs"),
    "classifiers": ("elasticthought.commands.classifiers", "classifiers_main", "make classifiers of trained jobs; "
                    "list, show, delete, download"),
    "classify": ("elasticthought.commands.classifiers", "classify_main", "the top labels of images"),
    "classify-jobs": ("elasticthought.commands.classifiers", "classify_jobs_main", "list, show, cancel, wait for "
                      "classify jobs; their results"),
    "events": ("elasticthought.commands.events", "main", "the tenant's events, live"),
    "webhooks": ("elasticthought.commands.webhooks", "main", "post the tenant's events to URLs, signed; deliveries"),
    "tokens": ("elasticthought.commands.tenancy", "tokens_main", "issue, list and revoke your API tokens"),
    "tenants": ("elasticthought.commands.tenancy", "tenants_main", "create tenants over the API (admin token)"),
    "users": ("elasticthought.commands.tenancy", "users_main", "add users to a tenant over the API"),
    "workers": ("elasticthought.commands.cluster", "workers_main", "list workers, change their slots (admin token)"),
}
CLIENT_NOTE = """
The client commands read the server and token from --url/--token, else ET_URL/ET_TOKEN, else the
file `elasticthought login` writes; `--json` prints results for scripts. `elasticthought COMMAND
--help` shows a command's options and the exit codes: 0 ok, 1 job failed/cancelled/rejected,
2 usage, 3 not found, 4 auth, 5 refused input (400/409/413/415/422), 6 unreachable or 5xx,
7 wait timed out."""


def usage() -> str:
    width = max(len(name) for name in SUBCOMMANDS)
    lines = ["usage: elasticthought <command> [options]", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {help_}" for name, (_, _, help_) in SUBCOMMANDS.items()]
    return "\n".join(lines) + "\n" + CLIENT_NOTE


def main(argv: Sequence[str] | None = None) -> int:
    parent_death.arm_from_environment()  # a trainer dies with its worker: armed before anything else
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    entry = SUBCOMMANDS.get(args[0])
    if entry is None:
        print(f"elasticthought: unknown command {args[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module_name, function_name, _ = entry
    function = getattr(importlib.import_module(module_name), function_name)
    code: int = function(args[1:])
    return code


if __name__ == "__main__":
    sys.exit(main())
