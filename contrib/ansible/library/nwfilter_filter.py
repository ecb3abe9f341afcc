#!/usr/bin/python
# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: nwfilter_filter
short_description: A libvirt network filter in NwFilter's store
description:
  - Defines, changes or removes one libvirt nwfilter document on a Linux host through NwFilter (a PowerShell 7
    module). Bindings that use the filter are re-applied live when it changes.
  - "Idempotent: the filter is compared by content hash of its canonical XML without the UUID, so the same XML pushed
    twice reports no change. Supports check mode and diff."
  - With nwfilterd running, the call goes through its control socket and starts no PowerShell (see I(daemon)).
options:
  name: {description: The filter's name., type: str, required: true}
  xml: {description: "The filter's libvirt XML (C(<filter name=...>)); required when state is present.", type: str}
  state: {description: Whether the filter should be defined., type: str, choices: [present, absent], default: present}
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
requirements: [the NwFilter module; PowerShell 7.4 or later unless nwfilterd runs]
'''

EXAMPLES = r'''
- name: A web VM's filter
  nwfilter_filter:
    name: web
    xml: "{{ lookup('file', 'web.xml') }}"
- name: Gone
  nwfilter_filter: {name: old-web, state: absent}
'''

RETURN = r'''
state: {description: "The filter after the task (name, xml, _exist); in check mode, what it would be.", returned: always, type: dict}
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.nwfilter import COMMON_ARGS, converge


def describe(state):
    if not state.get('_exist'):
        return ''
    return (state.get('xml') or '').rstrip('\n') + '\n'


def main():
    spec = dict(name=dict(type='str', required=True), xml=dict(type='str'),
                state=dict(type='str', choices=['present', 'absent'], default='present'))
    spec.update(COMMON_ARGS)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True,
                           required_if=[('state', 'present', ('xml',))])
    instance = dict(name=module.params['name'], _exist=module.params['state'] == 'present')
    if module.params['xml'] is not None:
        instance['xml'] = module.params['xml']
    converge(module, 'filter', instance, describe)


if __name__ == '__main__':
    main()
