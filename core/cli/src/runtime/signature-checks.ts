/**
 * Signature checks for fetches, backed by the keystore (trusted keys per name prefix).
 */
import { untrusted } from '@rkt/api';
import type { RuntimeContext } from './engine.js';
import type { SignatureCheckFactory } from './images.js';

export function keystoreSignatureChecks(_ctx: RuntimeContext): SignatureCheckFactory {
  return async () => {
    throw untrusted('signature verification is not available yet: use --insecure-options=image');
  };
}
