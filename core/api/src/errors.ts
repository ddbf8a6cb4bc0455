/**
 * One error type for the whole runtime. Classify by `code`, never by `instanceof`:
 * a user-installed plugin may carry its own copy of this package.
 */

export const ErrorCodes = {
  NOT_FOUND: 'E_NOT_FOUND',
  ALREADY_EXISTS: 'E_ALREADY_EXISTS',
  INVALID_ARGUMENT: 'E_INVALID_ARGUMENT',
  FAILED_PRECONDITION: 'E_FAILED_PRECONDITION',
  UNAVAILABLE: 'E_UNAVAILABLE',
  PERMISSION_DENIED: 'E_PERMISSION_DENIED',
  UNIMPLEMENTED: 'E_UNIMPLEMENTED',
  INTERNAL: 'E_INTERNAL',
  /** A contribution does not apply on this host (not a failure). */
  SKIP_PLUGIN: 'E_SKIP_PLUGIN',
  /** Signature or trust failure. */
  UNTRUSTED: 'E_UNTRUSTED',
  /** An app inside a pod exited non-zero; `exit` carries its status. */
  APP_EXIT: 'E_APP_EXIT',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** rkt's exit status for every rkt-level failure. */
export const EXIT_RKT_FAILURE = 254;

export interface RktErrorOptions {
  /** Process exit status; defaults to 254 (rkt-level failure). */
  exit?: number;
  cause?: unknown;
  /** Machine-readable extras (a JSON path, a CNI error object, …). */
  details?: Record<string, unknown>;
  suggestions?: string[];
}

export class RktError extends Error {
  readonly code: ErrorCode;
  readonly exit: number;
  readonly details: Record<string, unknown> | undefined;
  readonly suggestions: string[] | undefined;
  /** Marker so that copies of this class from another package instance are recognised. */
  readonly rktError = true as const;

  constructor(code: ErrorCode, message: string, options: RktErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RktError';
    this.code = code;
    this.exit = options.exit ?? EXIT_RKT_FAILURE;
    this.details = options.details;
    this.suggestions = options.suggestions;
  }
}

export interface RktErrorLike {
  code: string;
  message: string;
  exit?: number;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export function isRktError(err: unknown): err is RktErrorLike {
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as { rktError?: unknown }).rktError === true &&
    typeof (err as { code?: unknown }).code === 'string'
  );
}

function hasCode(err: unknown, code: ErrorCode): boolean {
  return isRktError(err) && err.code === code;
}

export const isNotFound = (e: unknown) => hasCode(e, ErrorCodes.NOT_FOUND);
export const isAlreadyExists = (e: unknown) => hasCode(e, ErrorCodes.ALREADY_EXISTS);
export const isInvalidArgument = (e: unknown) => hasCode(e, ErrorCodes.INVALID_ARGUMENT);
export const isFailedPrecondition = (e: unknown) => hasCode(e, ErrorCodes.FAILED_PRECONDITION);
export const isUnavailable = (e: unknown) => hasCode(e, ErrorCodes.UNAVAILABLE);
export const isPermissionDenied = (e: unknown) => hasCode(e, ErrorCodes.PERMISSION_DENIED);
export const isUntrusted = (e: unknown) => hasCode(e, ErrorCodes.UNTRUSTED);
export const isSkipPlugin = (e: unknown) => hasCode(e, ErrorCodes.SKIP_PLUGIN);
export const isAppExit = (e: unknown) => hasCode(e, ErrorCodes.APP_EXIT);

export const notFound = (msg: string, o?: RktErrorOptions) => new RktError(ErrorCodes.NOT_FOUND, msg, o);
export const alreadyExists = (msg: string, o?: RktErrorOptions) => new RktError(ErrorCodes.ALREADY_EXISTS, msg, o);
export const invalidArgument = (msg: string, o?: RktErrorOptions) => new RktError(ErrorCodes.INVALID_ARGUMENT, msg, o);
export const failedPrecondition = (msg: string, o?: RktErrorOptions) =>
  new RktError(ErrorCodes.FAILED_PRECONDITION, msg, o);
export const unavailable = (msg: string, o?: RktErrorOptions) => new RktError(ErrorCodes.UNAVAILABLE, msg, o);
export const permissionDenied = (msg: string, o?: RktErrorOptions) =>
  new RktError(ErrorCodes.PERMISSION_DENIED, msg, o);
export const internal = (msg: string, o?: RktErrorOptions) => new RktError(ErrorCodes.INTERNAL, msg, o);
export const untrusted = (msg: string, o?: RktErrorOptions) => new RktError(ErrorCodes.UNTRUSTED, msg, o);
/** Thrown by a contribution's init when it does not apply on this host. */
export const skipPlugin = (reason: string) => new RktError(ErrorCodes.SKIP_PLUGIN, reason);

/** The exit status to use for any thrown value. */
export function exitCodeOf(err: unknown): number {
  if (isRktError(err) && typeof err.exit === 'number') return err.exit;
  return EXIT_RKT_FAILURE;
}

/**
 * rkt prints `msg: <innermost error>` without --debug, and the whole chain as a tree with it.
 */
export function formatError(err: unknown, debug = false): string {
  const chain: string[] = [];
  let cur: unknown = err;
  const seen = new Set<unknown>();
  while (cur !== undefined && cur !== null && !seen.has(cur)) {
    seen.add(cur);
    chain.push(cur instanceof Error || isRktError(cur) ? (cur as Error).message : String(cur));
    cur = typeof cur === 'object' ? (cur as { cause?: unknown }).cause : undefined;
  }
  if (chain.length <= 1) return chain[0] ?? 'unknown error';
  if (!debug) {
    const first = chain[0]!;
    const last = chain[chain.length - 1]!;
    return first.includes(last) ? first : `${first}: ${last}`;
  }
  return chain.map((m, i) => (i === 0 ? m : `${'  '.repeat(i)}└─${m}`)).join('\n');
}
