#  SPDX-License-Identifier: Apache-2.0
"""Spindle's cluster RPCs for SPDK's scripts/rpc.py, loaded with its --plugin option (docs/cluster.md).

SPDK has no cluster methods, so rpc.py does not know them; this plugin adds them with the same names, flags
and output as `./spindle rpc`. Standard library only:

    PYTHONPATH=examples/rpc-plugin python3 spdk/scripts/rpc.py --plugin spindle_cluster \
        -s /var/tmp/spindle-node1.sock cluster_get_nodes
"""

import json
from shlex import quote


def _params(args, *keys):
    return {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}


def _print_dict(d):
    if d is not None:  # None: --dry-run, or a batched call
        print(json.dumps(d, indent=2))


def _print_array(a):
    if a is not None:
        print(" ".join(quote(v) for v in a))


def spdk_rpc_plugin_initialize(subparsers):
    def cluster_get_nodes(args):
        _print_dict(args.client.call('cluster_get_nodes'))

    p = subparsers.add_parser('cluster_get_nodes', help="Display the cluster's members as this node sees them")
    p.set_defaults(func=cluster_get_nodes)

    def cluster_get_bdevs(args):
        _print_dict(args.client.call('cluster_get_bdevs', _params(args, 'name', 'uuid', 'node')))

    p = subparsers.add_parser('cluster_get_bdevs', help='Display the cluster-wide bdev directory, or the entries of one bdev')
    p.add_argument('-b', '--name', help='bdev name or UUID')
    p.add_argument('-u', '--uuid', help='bdev UUID')
    p.add_argument('-n', '--node', help="only this node's entries (node name or address)")
    p.set_defaults(func=cluster_get_bdevs)

    def bdev_cluster_attach(args):
        names = args.client.call('bdev_cluster_attach', _params(
            args, 'name', 'bdev', 'node', 'ctrlr_loss_timeout_sec', 'reconnect_delay_sec', 'fast_io_fail_timeout_sec'))
        _print_array(names)

    p = subparsers.add_parser('bdev_cluster_attach',
                              help="Attach another node's bdev found in the cluster directory (through the Aeron initiator)")
    p.add_argument('-b', '--name', help='Name of the controller, prefix for each bdev name', required=True)
    p.add_argument('-d', '--bdev', help="the remote bdev's name or UUID", required=True)
    p.add_argument('-n', '--node', help='the node that exports it (name or address); needed when the name is ambiguous')
    p.add_argument('-l', '--ctrlr-loss-timeout-sec', type=int,
                   help='Time to wait until ctrlr is reconnected before deleting ctrlr. -1 (the cluster default) means the cluster decides')
    p.add_argument('-o', '--reconnect-delay-sec', type=int, help='Time to delay a reconnect retry')
    p.add_argument('-u', '--fast-io-fail-timeout-sec', type=int,
                   help='Time to wait until ctrlr is reconnected before failing I/O to ctrlr. 0 means no such timeout')
    p.set_defaults(func=bdev_cluster_attach)

    def bdev_cluster_detach(args):
        args.client.call('bdev_cluster_detach', {'name': args.name})

    p = subparsers.add_parser('bdev_cluster_detach', help='Detach a controller made by bdev_cluster_attach and delete its bdevs')
    p.add_argument('name', help='Name of the controller')
    p.set_defaults(func=bdev_cluster_detach)
