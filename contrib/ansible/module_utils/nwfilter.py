# -*- coding: utf-8 -*-
# NwFilter's Ansible modules drive a host's NwFilter state through the module's one JSON entry point, the one the DSC
# v3 resources run (docs/design/state.md): nwfilterctl in the module folder's nwfilterd/, which sends the call to
# nwfilterd's control socket when the daemon runs (no PowerShell is started) and otherwise runs the dispatcher
# nwfilter.dsc.ps1 with pwsh, unchanged (a module without nwfilterctl: that dispatcher directly). "test" says whether
# the host is already in the desired state (NwFilter's own Test-NwFilterState, never a synthetic comparison) and
# returns the actual state; "set" changes only what differs and returns the state after. One call when nothing is to
# change, two when something is.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import json
import os
import re

COMMON_ARGS = dict(
    pwsh=dict(type='str', default='pwsh'),
    module_path=dict(type='path'),
    config_dir=dict(type='path'),
    state_dir=dict(type='path'),
    network_namespace=dict(type='str'),
    daemon=dict(type='str', choices=['auto', 'daemon', 'inprocess']),
    daemon_socket=dict(type='path'),
)

# Where Install-PSResource and PowerShell itself put modules on Linux (besides $PSModulePath): searched before
# starting pwsh to ask, so that with nwfilterd running no pwsh starts at all.
MODULE_DIRS = ('~/.local/share/powershell/Modules', '/usr/local/share/powershell/Modules', '/opt/microsoft/powershell/7/Modules')


def _version_key(path):
    name = os.path.basename(os.path.dirname(path))
    return [int(p) for p in re.findall(r'\d+', name)] if re.match(r'^\d+(\.\d+)*$', name) else [-1]


def find_module_base():
    """The folder of the newest installed NwFilter module, from the module path alone (None: not found there)."""
    dirs = [d for d in os.environ.get('PSModulePath', '').split(os.pathsep) if d] + [os.path.expanduser(d) for d in MODULE_DIRS]
    found = []
    for d in dirs:
        found += glob.glob(os.path.join(d, 'NwFilter', '*', 'NwFilter.psd1')) + glob.glob(os.path.join(d, 'NwFilter', 'NwFilter.psd1'))
    if not found:
        return None
    return os.path.dirname(sorted(found, key=_version_key)[-1])


class NwFilterDsc(object):
    """Runs the dispatcher for one resource type ('filter' or 'binding') with an instance's JSON on stdin."""

    def __init__(self, module, resource):
        self.module = module
        self.resource = resource
        self.env = {}
        for option, variable in (('config_dir', 'NWFILTER_CONFIG_DIR'), ('state_dir', 'NWFILTER_STATE_DIR'),
                                 ('network_namespace', 'NWFILTER_NETNS'), ('daemon', 'NWFILTER_DAEMON'),
                                 ('daemon_socket', 'NWFILTER_DAEMON_SOCKET')):
            if module.params.get(option):
                self.env[variable] = module.params[option]
        self.pwsh = module.get_bin_path(module.params['pwsh'], required=False) or module.params['pwsh']
        # nwfilterctl's fallback runs this PowerShell.
        self.env['NWFILTER_PWSH'] = self.pwsh
        self.dispatcher = self._find_dispatcher()
        ctl = os.path.join(os.path.dirname(self.dispatcher), 'nwfilterd', 'nwfilterctl')
        self.ctl = ctl if os.path.isfile(ctl) and os.access(ctl, os.X_OK) else None

    def _find_dispatcher(self):
        base = self.module.params.get('module_path') or find_module_base()
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
        if self.ctl:
            cmd = [self.ctl, 'dsc', self.resource, operation]
        else:
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
            self.module.fail_json(msg=' '.join(messages) or (err or out).strip() or ('%s %s %s exited with %d' % (os.path.basename(cmd[0]), self.resource, operation, rc)),
                                  rc=rc, failure=reason)
        for line in (err or '').splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and 'warn' in record:
                self.module.warn(record['warn'])
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
