/**
 * Signature checks for fetches, backed by the keystore (keys trusted per name prefix in the system
 * and local config dirs). The ACI bytes are hashed as they stream into the store; the signer is
 * checked against the keys trusted for the image's name before the image becomes visible.
 */
import type { RuntimeContext } from './engine.js';
import type { SignatureCheckFactory } from './images.js';

export function keystoreSignatureChecks(ctx: RuntimeContext, warn: (m: string) => void): SignatureCheckFactory {
  return async (signature) => {
    const { Keystore } = await import('./keystore.js');
    const { parseAciSignature } = await import('./signature.js');
    const keystore = new Keystore(
      { systemConfigDir: ctx.paths.systemConfigDir, localConfigDir: ctx.paths.localConfigDir },
      { warn },
    );
    const sig = await parseAciSignature(signature);
    return {
      hashAlgorithms: sig.hashAlgorithms,
      update: (chunk) => sig.update(chunk),
      verify: async (name, hashes) => {
        const v = hashes ? await sig.verifyWithHashes(keystore, name, hashes) : await sig.verify(keystore, name);
        return { fingerprint: v.fingerprint, identities: v.identities };
      },
    };
  };
}
