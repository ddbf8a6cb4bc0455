/**
 * bridge networks: every pod's veth is a port of one Linux bridge (created on first use, named by
 * `bridge`), so pods on the same network reach each other; the bridge is the gateway when
 * `isGateway` is set.
 */
import type { NetConf } from '@rkt/api';
import type { CniNetworkSpec } from '@rkt/cni';

const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

export const spec: CniNetworkSpec = {
  id: 'bridge',
  cniTypes: ['bridge'],
  ipMasq: true,
  fields: {
    bridge: { type: 'string', pattern: IFNAME, doc: 'bridge device name (at most 15 characters)' },
    isGateway: { type: 'boolean', doc: 'give the bridge the gateway address' },
    isDefaultGateway: { type: 'boolean', doc: 'also add a default route via the bridge' },
    forceAddress: { type: 'boolean' },
    ipMasq: { type: 'boolean', doc: 'masquerade traffic leaving the subnet' },
    hairpinMode: { type: 'boolean' },
    promiscMode: { type: 'boolean' },
    mtu: { type: 'integer', min: 68, max: 65535 },
    vlan: { type: 'integer', min: 0, max: 4094 },
    ipam: { type: 'object', required: true, doc: 'IPAM section (host-local or any IPAM plugin)' },
    dns: { type: 'object' },
  },
  crossCheck(conf) {
    if (conf.isDefaultGateway === true && conf.isGateway === false) return '"isDefaultGateway" needs "isGateway" (it cannot be false)';
    return undefined;
  },
  defaults(name: string): NetConf {
    return {
      cniVersion: '1.0.0',
      name,
      type: 'bridge',
      bridge: `rkt-${name}`.slice(0, 15),
      isGateway: true,
      ipMasq: true,
      ipam: { type: 'host-local', subnet: '10.2.0.0/24', routes: [{ dst: '0.0.0.0/0' }] },
    };
  },
};
