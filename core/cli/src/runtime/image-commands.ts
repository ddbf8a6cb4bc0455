/** Shared pieces of the image commands: booting the image service, resolving store images. */
import { Store, notFound, type ImageInfo } from '@rkt/api';
import type { Engine } from './engine.js';
import { ImageService } from './images.js';
import { parseAppcName } from './image-ref.js';

export async function imageService(engine: Engine): Promise<ImageService> {
  const svc = engine.container.resolve(ImageService);
  const { keystoreSignatureChecks } = await import('./signature-checks.js');
  svc.useSignatureChecks(keystoreSignatureChecks(engine.context, (m) => process.stderr.write(`pubkey: ${m}\n`)));
  return svc;
}

/**
 * An image already in the store, by id (prefix) or by name[:version][,labels] — only the labels
 * given are matched (no os/arch defaults), the newest import wins, as `rkt image …`.
 */
export async function findStoredImage(store: Store, arg: string): Promise<ImageInfo> {
  if (/^sha512-[0-9a-f]{2,}$/i.test(arg)) {
    const id = await store.images.resolveId(arg.toLowerCase());
    return (await store.images.getInfo(id))!;
  }
  const { name, labels } = parseAppcName(arg);
  const hit = await store.images.findByName(name, labels);
  if (!hit) throw notFound(`no image ${JSON.stringify(arg)} in the store`);
  return hit;
}
