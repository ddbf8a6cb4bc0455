import { networkSuite } from '@rkt/testkit';
import { cniNetwork } from '@rkt/cni';
import { spec } from '../src/spec.js';

networkSuite('ptp', () => cniNetwork(spec), {
  subnet: '10.91.0.0/24',
  invalid: [
    { conf: { cniVersion: '1.0.0', name: 'p', type: 'ptp' }, error: /"ipam" is required/ },
    { conf: { cniVersion: '1.0.0', name: 'p', type: 'ptp', ipMasq: 'yes', ipam: { type: 'host-local', subnet: '10.0.0.0/24' } }, error: /"ipMasq" must be true or false \(got "yes"\)/ },
    { conf: { cniVersion: '1.0.0', name: 'p', type: 'ptp', mtu: 10, ipam: { type: 'host-local', subnet: '10.0.0.0/24' } }, error: /"mtu" must be at least 68/ },
    { conf: { cniVersion: '1.0.0', name: 'p', type: 'ptp', ipam: { type: 'host-local' } }, error: /needs "subnet" or "ranges"/ },
    { conf: { cniVersion: '1.0.0', name: 'p', type: 'ptp', ipam: { type: '../host-local', subnet: '10.0.0.0/24' } }, error: /"ipam\.type" .* plain executable name/ },
  ],
});
