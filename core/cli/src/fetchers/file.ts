/**
 * The `file` fetcher (built in): local ACI files given as a path or `file://` URL, with the
 * signature from `--signature` or beside the image (`<image minus .aci>.aci.asc`, as rkt).
 * The pull policy does not apply: the file is always read.
 */
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { defineContribution, Fetcher, invalidArgument, notFound, type FetchResult, type ImageRef, type FetchOptions } from '@rkt/api';

export function signaturePathFor(path: string): string {
  return path.endsWith('.aci') ? `${path}.asc` : `${path}.aci.asc`;
}

export class FileFetcher implements Fetcher {
  readonly id = 'file';

  async fetch(ref: ImageRef, options: FetchOptions): Promise<FetchResult> {
    if (ref.kind !== 'path') throw invalidArgument(`file fetcher: ${JSON.stringify(ref.raw)} is not a local file`);
    let st;
    try {
      st = statSync(ref.path);
    } catch {
      throw notFound(`image file ${JSON.stringify(ref.path)} does not exist`);
    }
    if (!st.isFile()) throw invalidArgument(`image file ${JSON.stringify(ref.path)} is not a regular file`);
    const sigPath = options.signaturePath ?? signaturePathFor(ref.path);
    let signature: Uint8Array | null = null;
    if (options.signaturePath && !existsSync(sigPath))
      throw notFound(`signature file ${JSON.stringify(sigPath)} (--signature) does not exist`);
    if (existsSync(sigPath)) signature = readFileSync(sigPath);
    options.debug(`reading image ${ref.path}${signature ? `, signature ${sigPath}` : ', no signature found'}`);
    options.progress?.start(`Reading ${ref.path}`, st.size);
    return { aci: createReadStream(ref.path, { highWaterMark: 1 << 20 }), signature };
  }
}

export default defineContribution(Fetcher, () => new FileFetcher());
