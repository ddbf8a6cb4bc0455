/** Pod UUID arguments as rkt resolves them: lower-cased, prefix-matched over the listed dirs. */
import { readFileSync, writeFileSync } from 'node:fs';
import { RktError, ErrorCodes, invalidArgument, notFound } from '@rkt/api';
import { LISTED_DIRS, Pod, listPodUuids } from './pod.js';

/** Every pod UUID in prepare, prepared, run and exited-garbage starting with `prefix`. */
export function matchUuid(dataDir: string, prefix: string): string[] {
  if (prefix === '') throw invalidArgument('UUID cannot be empty');
  return listPodUuids(dataDir, LISTED_DIRS).filter((u) => u.startsWith(prefix));
}

/** The one pod UUID `arg` names; rkt's error strings otherwise. */
export function resolveUuid(dataDir: string, arg: string): string {
  const want = arg.toLowerCase();
  let m: string[];
  try {
    m = matchUuid(dataDir, want);
  } catch (e) {
    throw new RktError(ErrorCodes.INVALID_ARGUMENT, 'unable to resolve UUID', { cause: e });
  }
  if (m.length === 0) throw notFound('unable to resolve UUID', { cause: new Error(`no matches found for ${JSON.stringify(want)}`) });
  if (m.length > 1) throw invalidArgument('unable to resolve UUID', { cause: new Error(`ambiguous uuid, ${m.length} matches`) });
  return m[0]!;
}

/** Resolve and load: rkt's PodFromUUIDString. */
export function podFromUuidString(dataDir: string, arg: string): Pod {
  const uuid = resolveUuid(dataDir, arg);
  try {
    return Pod.load(dataDir, uuid);
  } catch (e) {
    throw new RktError(ErrorCodes.NOT_FOUND, 'unable to get pod', { cause: e });
  }
}

/** `--uuid-file`: the file's content with surrounding white space trimmed. */
export function readUuidFile(path: string): string {
  return readFileSync(path, 'utf8').trim();
}

/** `--uuid-file-save`: the UUID without a trailing newline, mode 0644. */
export function writeUuidFile(path: string, uuid: string): void {
  writeFileSync(path, uuid, { mode: 0o644 });
}
