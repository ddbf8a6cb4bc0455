/**
 * The body of `rkt fetch`, shared by the oclif command (commands/fetch.ts) and the start-up fast
 * path (fast/index.ts).
 */
import { invalidArgument } from '@rkt/api';
import type { Engine } from './engine.js';

export interface FetchIO {
  engine(flags: Record<string, unknown>): Promise<Engine>;
  debugLine(message: string): void;
}

export async function fetchCommand(io: FetchIO, flags: Record<string, unknown>, images: readonly string[]): Promise<void> {
  const sigs = (flags.signature as string[] | undefined) ?? [];
  if (sigs.length > images.length) throw invalidArgument(`more --signature flags (${sigs.length}) than images (${images.length})`);
  const pullPolicy = flags['store-only'] ? 'never' : flags['no-store'] ? 'update' : (flags['pull-policy'] as 'never' | 'new' | 'update');
  const engine = await io.engine(flags);
  const { imageService } = await import('./image-commands.js');
  const { shortImageId } = await import('./image-ref.js');
  const { TtyProgress } = await import('./progress.js');
  const svc = await imageService(engine);
  for (const [i, image] of images.entries()) {
    const progress = TtyProgress.forStderr();
    const info = await svc.fetch(image, {
      pullPolicy,
      ...(sigs[i] ? { signaturePath: sigs[i] } : {}),
      ...(progress ? { progress } : {}),
      log: (m) => process.stderr.write(`image: ${m}\n`),
      debug: (m) => io.debugLine(m),
    });
    process.stdout.write(`${shortImageId(info.id, Boolean(flags.full))}\n`);
  }
}
