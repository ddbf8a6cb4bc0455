import { networkSuite } from '@rkt/testkit';
import { cniNetwork } from '@rkt/cni';
import { spec } from '../src/spec.js';

const ipam = { type: 'host-local', subnet: '10.0.0.0/24' };
networkSuite('macvlan', () => cniNetwork(spec), {
  subnet: '10.93.0.0/24',
  // This kernel has no dummy link type: the master is one end of a veth pair in the suite's host netns.
  setupHost: (ip) => {
    ip(['link', 'add', 'suitemaster', 'type', 'veth', 'peer', 'name', 'suitepeer']);
    ip(['link', 'set', 'suitemaster', 'up']);
  },
  adapt: (c) => ({ ...c, master: 'suitemaster' }),
  invalid: [
    { conf: { cniVersion: '1.0.0', name: 'm', type: 'macvlan', ipam }, error: /"master" is required/ },
    { conf: { cniVersion: '1.0.0', name: 'm', type: 'macvlan', master: 'eth0', mode: 'weird', ipam }, error: /"mode" must be one of "bridge", "private", "vepa", "passthru" \(got "weird"\)/ },
    { conf: { cniVersion: '1.0.0', name: 'm', type: 'macvlan', master: 'eth0/../x', ipam }, error: /"master" "eth0\/\.\.\/x" does not match/ },
  ],
});
