import { networkSuite } from '@rkt/testkit';
import { cniNetwork } from '@rkt/cni';
import { spec } from '../src/spec.js';

const ipam = { type: 'host-local', subnet: '10.0.0.0/24' };
networkSuite('bridge', () => cniNetwork(spec), {
  subnet: '10.92.0.0/24',
  // The bridge device lives in the suite's host netns, which is deleted at the end.
  adapt: (c) => ({ ...c, bridge: `suitebr${process.pid % 10000}` }),
  invalid: [
    { conf: { cniVersion: '1.0.0', name: 'b', type: 'bridge', bridge: 'a-name-longer-than-15', ipam }, error: /"bridge" "a-name-longer-than-15" does not match/ },
    { conf: { cniVersion: '1.0.0', name: 'b', type: 'bridge', vlan: 5000, ipam }, error: /"vlan" must be at most 4094/ },
    { conf: { cniVersion: '1.0.0', name: 'b', type: 'bridge', isGateway: false, isDefaultGateway: true, ipam }, error: /"isDefaultGateway" needs "isGateway"/ },
    { conf: { cniVersion: '1.0.0', name: 'b', type: 'bridge' }, error: /"ipam" is required/ },
  ],
});
