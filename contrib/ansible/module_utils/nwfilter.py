# -*- coding: utf-8 -*-
# NwFilter's Ansible modules drive a host's NwFilter state through the module's one JSON entry point: the DSC v3
# dispatcher nwfilter.dsc.ps1 shipped in the NwFilter module folder (docs/design/state.md). "test" says whether the
# host is already in the desired state (NwFilter's own Test-NwFilterState, never a synthetic comparison) and returns
# the actual state; "set" changes only what differs and returns the state after. One pwsh process when nothing is to
# change, two when something is.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

COMMON_ARGS = dict(
    pwsh=dict(type='str', default='pwsh'),
    module_path=dict(type='path'),
    config_dir=dict(type='path'),
    state_dir=dict(type='path'),
    network_namespace=dict(type='str'),
)


class NwFilterDsc(object):
    """Runs the dispatcher for one resource type ('filter' or 'binding') with an instance's JSON on stdin."""

    def __init__(self, module, resource):
        self.module = module
        self.resource = resource
        self.env = {}
        for option, variable in (('config_dir', 'NWFILTER_CONFIG_DIR'), ('state_dir', 'NWFILTER_STATE_DIR'),
                                 ('network_namespace', 'NWFILTER_NETNS')):
            if module.params.get(option):
                self.env[variable] = module.params[option]
        self.pwsh = module.get_bin_path(module.params['pwsh'], required=False) or module.params['pwsh']
        self.dispatcher = self._find_dispatcher()

    def _find_dispatcher(self):
        base = self.module.params.get('module_path')
        if not base:
            probe = ("$m = Get-Module -ListAvailable -Name NwFilter | Sort-Object Version -Descending | "
                     "Select-Object -First 1; if ($m) { $m.ModuleBase }")
            rc, out, err = self.module.run_command([self.pwsh, '-NoLogo', '-NonInteractive', '-NoProfile', '-Command', probe],
                                                   environ_update=self.env)
            if rc != 0:
                self.module.fail_json(msg="Could not run PowerShell ('%s') to find the NwFilter module: %s" % (self.pwsh, (err or out).strip()), rc=rc)
            base = out.strip()
            if not base:
                self.module.fail_json(msg="The NwFilter module is not installed for '%s' (Install-PSResource NwFilter), "
                                          "and module_path was not given." % self.pwsh)
        path = os.path.join(base, 'nwfilter.dsc.ps1')
        if not os.path.isfile(path):
            self.module.fail_json(msg="'%s' has no nwfilter.dsc.ps1: module_path must be the NwFilter module folder." % base)
        return path

    def run(self, operation, instance):
        """Runs one operation; returns the last JSON object it printed. Fails the module with NwFilter's own message."""
        cmd = [self.pwsh, '-NoLogo', '-NonInteractive', '-NoProfile', '-File', self.dispatcher, self.resource, operation]
        rc, out, err = self.module.run_command(cmd, data=json.dumps(instance), environ_update=self.env)
        if rc != 0:
            messages = []
            for line in (err or '').splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and 'error' in record:
                    messages.append(record['error'])
            reason = 'invalid input' if rc == 2 else 'the change failed'
            self.module.fail_json(msg=' '.join(messages) or (err or out).strip() or ('nwfilter.dsc.ps1 %s %s exited with %d' % (self.resource, operation, rc)),
                                  rc=rc, failure=reason)
        lines = [line for line in out.splitlines() if line.strip()]
        if not lines:
            return None
        return json.loads(lines[-1])


def strip_readonly(state):
    """The state as the user writes it: without the read-only properties the dispatcher adds."""
    return dict((k, v) for k, v in (state or {}).items() if k not in ('_inDesiredState', 'hash'))


def converge(module, resource, instance, describe):
    """Test, then (unless in check mode or already there) set. describe(state) -> the text shown by --diff."""
    dsc = NwFilterDsc(module, resource)
    actual = dsc.run('test', instance)
    in_desired = bool(actual.get('_inDesiredState'))
    before = strip_readonly(actual)
    result = dict(changed=not in_desired, state=before)
    if in_desired:
        module.exit_json(**result)
    after = dict(before)
    after.update(instance)
    if not module.check_mode:
        after = strip_readonly(dsc.run('set', instance))
    result['state'] = after
    if module._diff:
        result['diff'] = dict(before=describe(before), after=describe(after),
                              before_header='%s (before)' % resource, after_header='%s (after)' % resource)
    module.exit_json(**result)
