/**
 * Test helpers: keystore layouts (gpg keys come from @rkt/testkit's Gpg).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export { Gpg, type GpgKey } from '@rkt/testkit';

/** A fresh system + local config pair. */
export function configDirs(prefix = 'rkt-ks-') {
  const base = mkdtempSync(join(tmpdir(), prefix));
  const d = {
    base,
    system: join(base, 'system'),
    local: join(base, 'local'),
    /** Put `content` at `<layer>/trustedkeys/<rel>`. */
    put(layer: 'system' | 'local', rel: string, content: string): string {
      const p = join(layer === 'system' ? d.system : d.local, 'trustedkeys', rel);
      mkdirSync(join(p, '..'), { recursive: true });
      writeFileSync(p, content);
      return p;
    },
    cleanup(): void {
      rmSync(base, { recursive: true, force: true });
    },
  };
  return d;
}
