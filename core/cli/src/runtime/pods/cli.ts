/** Small helpers shared by the pod commands. */
import { RktError, ErrorCodes, invalidArgument } from '@rkt/api';
import { readUuidFile } from './uuid.js';

/** run, prepare, run-prepared, enter, gc and rm refuse non-root callers, as rkt. */
export function ensureSuperuser(): void {
  if (process.getuid?.() !== 0) throw new RktError(ErrorCodes.PERMISSION_DENIED, 'cannot run as unprivileged user');
}

/**
 * `UUID…` or `--uuid-file=F`, never both. A missing or unreadable file exits with `fileExit`
 * (1 for status and stop, 254 for rm, as rkt).
 */
export function uuidArgs(args: string[], uuidFile: string | undefined, fileExit: number, single = false): string[] {
  if (uuidFile !== undefined && args.length > 0) throw invalidArgument('give either UUID arguments or --uuid-file, not both');
  if (uuidFile !== undefined) {
    try {
      return [readUuidFile(uuidFile)];
    } catch (e) {
      throw new RktError(ErrorCodes.INVALID_ARGUMENT, 'unable to resolve UUID from file', { cause: e, exit: fileExit });
    }
  }
  if (args.length === 0) throw invalidArgument('a pod UUID (or --uuid-file) is required');
  if (single && args.length > 1) throw invalidArgument('only one pod UUID may be given');
  return args;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
