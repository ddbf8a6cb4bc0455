/**
 * macvlan networks: the pod gets a macvlan device on a host interface (`master`), with its own MAC
 * address on the master's link. The host itself cannot reach its macvlan pods through the master
 * (a kernel property of macvlan), other machines and other pods on the master can.
 */
import type { NetConf } from '@rkt/api';
import type { CniNetworkSpec } from '@rkt/cni';

export const spec: CniNetworkSpec = {
  id: 'macvlan',
  cniTypes: ['macvlan'],
  fields: {
    master: { type: 'string', required: true, pattern: /^[A-Za-z0-9_.-]{1,15}$/, doc: 'host interface the macvlan devices attach to' },
    mode: { type: 'string', enum: ['bridge', 'private', 'vepa', 'passthru'], doc: 'macvlan mode (default bridge)' },
    mtu: { type: 'integer', min: 68, max: 65535 },
    ipam: { type: 'object', required: true, doc: 'IPAM section (host-local or any IPAM plugin)' },
    dns: { type: 'object' },
  },
  defaults(name: string): NetConf {
    return {
      cniVersion: '1.0.0',
      name,
      type: 'macvlan',
      master: 'eth0',
      mode: 'bridge',
      ipam: { type: 'host-local', subnet: '10.3.0.0/24' },
    };
  },
};
