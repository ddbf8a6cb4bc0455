/**
 * ptp networks: a veth pair per pod, the host end routed (no bridge), addresses from IPAM. rkt's
 * built-in `default` (172.16.28.0/24, masqueraded, default route) and `default-restricted`
 * (172.31.0.0/16, no route out) are ptp networks.
 */
import type { NetConf } from '@rkt/api';
import type { CniNetworkSpec } from '@rkt/cni';

export const spec: CniNetworkSpec = {
  id: 'ptp',
  cniTypes: ['ptp'],
  ipMasq: true,
  fields: {
    ipMasq: { type: 'boolean', doc: 'masquerade traffic leaving the subnet' },
    mtu: { type: 'integer', min: 68, max: 65535, doc: 'MTU of the veth pair' },
    ipam: { type: 'object', required: true, doc: 'IPAM section (host-local or any IPAM plugin)' },
    dns: { type: 'object', doc: 'DNS settings returned to the runtime' },
  },
  defaults(name: string): NetConf {
    return {
      cniVersion: '1.0.0',
      name,
      type: 'ptp',
      ipMasq: true,
      ipam: { type: 'host-local', subnet: '172.16.28.0/24', routes: [{ dst: '0.0.0.0/0' }] },
    };
  },
};
