#!/usr/bin/python
# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: nwfilter_binding
short_description: A VM port's NwFilter binding
description:
  - Binds a filter to a VM's host-side port device (its MAC and the filter's parameters), changes it, or removes it,
    through NwFilter (a PowerShell 7 module); the firewall change is atomic per port.
  - Idempotent, with check mode and diff. Properties not given keep their current values (the owner is libvirt's).
  - With nwfilterd running, the call goes through its control socket and starts no PowerShell (see I(daemon)).
options:
  port_device: {description: "The host-side port device, e.g. vnet0.", type: str, required: true}
  mac_address: {description: The VM's MAC address; required to create a binding., type: str}
  filter: {description: The filter to bind; required to create a binding., type: str}
  parameters: {description: "The filter's parameters (a name to a string or a list, e.g. IP).", type: dict}
  backend: {description: The firewall backend., type: str, choices: [EbIpTables, Nftables]}
  counters: {description: "Per-rule packet and byte counters (Get-NwFilterStatistic) on or off; when not given, the port keeps its setting.", type: bool}
  state: {description: Whether the binding should exist., type: str, choices: [present, absent], default: present}
  pwsh: {description: PowerShell 7 on the target., type: str, default: pwsh}
  module_path: {description: "The NwFilter module folder; when not given, the newest NwFilter in $PSModulePath and PowerShell's module folders, else what pwsh's Get-Module -ListAvailable finds.", type: path}
  config_dir: {description: NWFILTER_CONFIG_DIR (the filter store) for this call., type: path}
  state_dir: {description: NWFILTER_STATE_DIR (bindings and leases) for this call., type: path}
  network_namespace: {description: "The network namespace whose ports are meant (NWFILTER_NETNS); default: the target's own.", type: str}
  daemon:
    description:
      - "How the call reaches NwFilter (NWFILTER_DAEMON): C(auto), the default, goes through nwfilterd's control socket
        when the daemon runs for this store (no PowerShell is started) and through pwsh otherwise; C(daemon) fails when
        nwfilterd does not answer; C(inprocess) always uses pwsh."
    type: str
    choices: [auto, daemon, inprocess]
  daemon_socket: {description: "nwfilterd's control socket (NWFILTER_DAEMON_SOCKET); default: /run/nwfilter/nwfilterd.sock.", type: path}
requirements: [the NwFilter module; PowerShell 7.4 or later unless nwfilterd runs, root on the target]
'''

EXAMPLES = r'''
- name: vnet0 carries clean-traffic
  nwfilter_binding:
    port_device: vnet0
    mac_address: 52:54:00:7b:35:93
    filter: clean-traffic
    parameters: {IP: 10.0.0.5}
'''

RETURN = r'''
state: {description: The binding after the task; in check mode, what it would be., returned: always, type: dict}
'''

import json

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.nwfilter import COMMON_ARGS, converge


def describe(state):
    if not state.get('_exist'):
        return ''
    return json.dumps(state, indent=2, sort_keys=True) + '\n'


def main():
    spec = dict(port_device=dict(type='str', required=True), mac_address=dict(type='str'), filter=dict(type='str'),
                parameters=dict(type='dict'), backend=dict(type='str', choices=['EbIpTables', 'Nftables']),
                counters=dict(type='bool'),
                state=dict(type='str', choices=['present', 'absent'], default='present'))
    spec.update(COMMON_ARGS)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    instance = dict(portDevice=p['port_device'], _exist=p['state'] == 'present')
    for option, key in (('mac_address', 'macAddress'), ('filter', 'filter'), ('parameters', 'parameters'), ('backend', 'backend'), ('counters', 'counters')):
        if p[option] is not None:
            instance[key] = p[option]
    converge(module, 'binding', instance, describe)


if __name__ == '__main__':
    main()
